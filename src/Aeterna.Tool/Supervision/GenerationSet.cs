using System.Security.Cryptography;
using System.Text;
using Aeterna.Interop;
using Aeterna.Tool.Checkpoints;
using Aeterna.Tool.Configuration;
using Aeterna.Tool.Logging;
using Aeterna.Tool.Processes;
using Aeterna.Tool.Relay;

namespace Aeterna.Tool.Supervision;

/// <summary>
/// The generations the supervisor holds, from their start until they have exited and are
/// forgotten; which one is active, and the config it runs (that of the last committed relay).
/// Every generation is started, activated, retired and forgotten here.
/// </summary>
internal sealed class GenerationSet(GenerationLauncher launcher, AeternaConfig config, EventLog log) : IRelayGenerations
{
    private readonly Lock _gate = new();
    private readonly List<Generation> _all = [];
    private int _lastNumber;
    private Generation? _active;
    private AeternaConfig _config = config;

    public Generation? Active
    {
        get { lock (_gate) return _active; }
    }

    /// <summary>The config of the active generation (the last one committed); the one a restart uses.</summary>
    public AeternaConfig Config
    {
        get { lock (_gate) return _config; }
    }

    /// <summary>
    /// Starts generation n+1 with <paramref name="config"/> (not yet active);
    /// <paramref name="stateSource"/> is the generation whose state it will take over, in a relay;
    /// <paramref name="restoreFrom"/> the checkpoint it will start from, in a restart.
    /// </summary>
    public async Task<Generation> StartAsync(AeternaConfig config, Generation? stateSource = null, Checkpoint? restoreFrom = null)
    {
        int number = Interlocked.Increment(ref _lastNumber);
        var generation = await launcher.StartAsync(number, config, stateSource, restoreFrom).ConfigureAwait(false);
        lock (_gate) _all.Add(generation);
        log.Info("generation.start", $"generation {number} started: pid {generation.Pid}: {string.Join(' ', config.Service.Command)}",
            ("generation", number), ("pid", generation.Pid));
        return generation;
    }

    /// <summary>Makes <paramref name="generation"/> the one the supervisor keeps running; its config becomes the current one.</summary>
    public void Activate(Generation generation)
    {
        generation.Activate();
        lock (_gate)
        {
            _active = generation;
            _config = generation.Config;
        }
    }

    /// <summary>Drains and stops a generation that is no longer wanted, then forgets it.</summary>
    public async Task<(ExitStatus Status, bool Killed)> RetireAsync(Generation generation, TimeSpan drainTimeout)
    {
        log.Info("generation.retire", $"generation {generation.Number} (pid {generation.Pid}): SIGTERM, drain timeout {drainTimeout.TotalSeconds:0.#} s",
            ("generation", generation.Number), ("pid", generation.Pid));
        var result = await generation.StopAsync(drainTimeout).ConfigureAwait(false);
        log.Info("generation.exit", $"generation {generation.Number} (pid {generation.Pid}) {result.Status}{(result.Killed ? " (killed at the drain timeout)" : "")}",
            ("generation", generation.Number), ("pid", generation.Pid), ("code", result.Status.ShellCode));
        Forget(generation);
        return result;
    }

    /// <summary>Kills a generation that never served (its whole process group), waits for it, forgets it.</summary>
    public async Task DiscardAsync(Generation generation)
    {
        generation.KillGroup();
        await generation.Exited.ConfigureAwait(false);
        Forget(generation);
    }

    /// <summary>Lets go of a generation that has exited (it is no longer the active one either).</summary>
    public void Forget(Generation generation)
    {
        lock (_gate)
        {
            _all.Remove(generation);
            if (_active == generation) _active = null;
        }
        generation.Dispose();
    }

    /// <summary>The live generation started with <paramref name="token"/> (AETERNA_TOKEN), for a session being opened.</summary>
    public Generation? FindByToken(string token)
    {
        byte[] presented = Encoding.ASCII.GetBytes(token);
        lock (_gate)
            return _all.FirstOrDefault(g => !g.HasExited && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(g.Token), presented));
    }

    /// <summary>Every generation held, and which one is active, at one instant.</summary>
    public (IReadOnlyList<Generation> All, Generation? Active) Snapshot()
    {
        lock (_gate) return ([.. _all], _active);
    }

    /// <summary>Forwards a signal the supervisor does not act on itself (SIGUSR1, SIGUSR2) to the active generation.</summary>
    public void Forward(int signal)
    {
        var active = Active;
        bool sent = active?.Signal(signal) ?? false;
        log.Info("signal.forward", sent ? $"forwarded {Libc.SignalName(signal)} to generation {active!.Number} (pid {active.Pid})" : $"{Libc.SignalName(signal)}: no active generation to forward it to");
    }

    /// <summary>
    /// Stops every generation at once with <paramref name="signal"/> (SIGKILL to its group after
    /// <paramref name="drainTimeout"/>) and forgets them; returns how the active one ended, or null without one.
    /// </summary>
    public async Task<ExitStatus?> StopAllAsync(int signal, TimeSpan drainTimeout)
    {
        var (all, active) = Snapshot();
        var stops = all.Select(async g =>
        {
            var (status, killed) = await g.StopAsync(drainTimeout, signal).ConfigureAwait(false);
            log.Info("generation.exit", $"generation {g.Number} (pid {g.Pid}) {status}{(killed ? " (killed at the drain timeout)" : "")}",
                ("generation", g.Number), ("pid", g.Pid), ("code", status.ShellCode));
            return (Generation: g, Status: status);
        }).ToArray();
        var results = await Task.WhenAll(stops).ConfigureAwait(false);
        foreach (var g in all) Forget(g);
        return active is null ? null : results.FirstOrDefault(r => r.Generation == active).Status;
    }
}
