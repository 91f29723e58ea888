using Aeterna.Addresses;
using System.Runtime.InteropServices;
using Aeterna.Tool.Checkpoints;
using Aeterna.Tool.Configuration;
using Aeterna.Tool.Control;
using Aeterna.Interop;
using Aeterna.Tool.Logging;
using Aeterna.Tool.Notify;
using Aeterna.Tool.Observability;
using Aeterna.Tool.Processes;
using Aeterna.Tool.Readiness;
using Aeterna.Tool.Relay;
using Aeterna.Tool.Sessions;
using Aeterna.Tool.Sockets;
using Aeterna.Protocol;

namespace Aeterna.Tool.Supervision;

/// <summary>
/// The supervisor: holds the listeners, keeps one generation active (restarting it with back-off
/// when it dies outside a relay), runs relays one at a time, forwards signals, reaps every child,
/// and on SIGTERM/SIGINT/SIGQUIT stops every generation and exits with the active one's code.
/// </summary>
internal sealed class Supervisor
{
    private readonly EventLog _log;
    private readonly ChildReaper _reaper = new();
    private readonly ProcessSpawner _spawner;
    private readonly SemaphoreSlim _operation = new(1, 1); // a relay or a crash restart: one at a time
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly List<Generation> _generations = [];
    private readonly SupervisorObservability _observability; // metrics, relay history, /metrics endpoint (Observability/)
    private readonly RelayOrchestrator _relay;
    private readonly SupervisorNotifier _manager = new(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"));
    private GenerationLauncher _launcher = null!;
    private CheckpointStore _checkpoints = null!;
    private readonly StateHandover _handover;
    private int _lastGenerationNumber;
    private int _lastRelayId;
    private RelayReport? _runningRelay;
    private string? _runningPhase;
    private TaskCompletionSource<string>? _rollback;
    private TaskCompletionSource<RelayReport>? _relayDone;
    private int _stopSignal = Libc.SIGTERM;
    private ExitStatus? _lastActiveExit;
    private int _restarts;

    public Supervisor(AeternaConfig config, EventLog log)
    {
        Config = config;
        ConfigPath = config.SourcePath;
        _log = log;
        _spawner = new ProcessSpawner(_reaper);
        var commands = new CommandRunner(_spawner);
        _handover = new StateHandover(log);
        _relay = new RelayOrchestrator(this, new PreflightRunner(commands), _handover, new CanaryWatch(commands), log);
        _observability = new SupervisorObservability(config, log);
        _lastRelayId = _observability.History.LastId; // relay ids go on across supervisor restarts
    }

    public string ConfigPath { get; }

    /// <summary>The config of the active generation (the last one committed).</summary>
    public AeternaConfig Config { get; private set; }

    public IReadOnlyList<BoundListener> Listeners { get; private set; } = [];

    public Generation? Active { get; private set; }

    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    /// <summary>Runs until stopped; returns the exit code for the process (the active generation's).</summary>
    public async Task<int> RunAsync()
    {
        bool pid1 = Environment.ProcessId == 1;
        if (!pid1 && !Libc.BecomeChildSubreaper())
            _log.Warn("supervisor.subreaper", "could not become a child subreaper: orphans of the service will be reaped by PID 1 instead");

        string runtimeDirectory = Path.GetDirectoryName(Config.Control.SocketPath)!;
        Directory.CreateDirectory(runtimeDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Listeners = ListenerBinder.BindAll(Config.Listeners);
        _checkpoints = new CheckpointStore(Config.Orchestration.StateHandoff.CheckpointPath, _log);
        _checkpoints.Load();
        using var checkpoints = _checkpoints;
        using var sessions = SessionServer.Start(SessionSocketPath(Config), FindGeneration, Welcome, OnCheckpoint, _log);
        _launcher = new GenerationLauncher(_spawner, Listeners, runtimeDirectory, sessions.Path);
        using var control = ControlServer.Start(Config.Control.SocketPath, this, _log);
        using var observability = _observability.Start(this, _stopping.Token);
        using var signals = new SignalRouter(this, _log);

        _log.Info("supervisor.start",
            $"supervising '{Config.Service.Name}' (pid {Environment.ProcessId}{(pid1 ? ", PID 1" : "")}); control socket {Config.Control.SocketPath}; "
            + (Listeners.Count == 0 ? "no listeners" : "listeners: " + string.Join(", ", Listeners.Select(l => $"{l.Name}={l.BoundAddress}"))),
            ("pid", Environment.ProcessId), ("control_socket", Config.Control.SocketPath));

        var watching = Config.Watch.Enabled ? new ChangeWatcher(this, _log).RunAsync(_stopping.Token) : Task.CompletedTask;
        await KeepServiceRunningAsync();
        await watching;
        _manager.Send("STOPPING=1");
        int code = await StopAllAsync();
        foreach (var listener in Listeners)
        {
            listener.Socket.Dispose();
            if (listener.Config.Kind == ListenerKind.Unix) File.Delete(listener.Config.Path!);
        }
        _log.Info("supervisor.exit", $"supervisor exits with code {code}", ("code", code));
        return code;
    }

    /// <summary>
    /// Outside relays: keeps a ready generation active. A generation that dies (or misses its
    /// watchdog) is restarted with exponential back-off; the listeners stay open meanwhile, so
    /// clients wait in the accept queue instead of being refused.
    /// </summary>
    private async Task KeepServiceRunningAsync()
    {
        var cancel = _stopping.Token;
        int quickFailures = 0;
        while (!cancel.IsCancellationRequested)
        {
            var active = Active;
            if (active is not null)
            {
                var failure = await Task.WhenAny(active.Exited, active.WatchdogFailed, Task.Delay(Timeout.Infinite, cancel)).ConfigureAwait(false);
                if (cancel.IsCancellationRequested) break;
                await _operation.WaitAsync(cancel).ConfigureAwait(false);
                try
                {
                    if (Active != active) continue; // a relay replaced it
                    if (failure == active.WatchdogFailed && !active.HasExited)
                    {
                        _log.Error("generation.watchdog", $"generation {active.Number} (pid {active.Pid}) {await active.WatchdogFailed}; killing it");
                        active.KillGroup();
                    }
                    var status = await active.Exited.ConfigureAwait(false);
                    _lastActiveExit = status;
                    quickFailures = active.Uptime > TimeSpan.FromSeconds(10) ? 0 : quickFailures + 1;
                    Active = null;
                    Forget(active);
                    _log.Error("generation.exit", $"generation {active.Number} (pid {active.Pid}) {status} outside a relay; restarting",
                        ("generation", active.Number), ("pid", active.Pid), ("code", status.ShellCode));
                }
                finally { _operation.Release(); }
            }

            if (quickFailures > 0)
            {
                var backoff = Backoff(quickFailures);
                _log.Info("generation.backoff", $"waiting {backoff.TotalMilliseconds:0} ms before the next start (failure {quickFailures} in a row)");
                try { await Task.Delay(backoff, cancel).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
            }
            if (!await StartActiveAsync(cancel).ConfigureAwait(false))
                quickFailures++;
        }
    }

    private TimeSpan Backoff(int failures)
    {
        var restart = Config.Orchestration.Restart;
        double ms = restart.BackoffInitial.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 30));
        return TimeSpan.FromMilliseconds(Math.Min(ms, restart.BackoffMax.TotalMilliseconds));
    }

    /// <summary>Starts a generation with the current config and makes it active once ready.</summary>
    private async Task<bool> StartActiveAsync(CancellationToken cancel)
    {
        try { await _operation.WaitAsync(cancel).ConfigureAwait(false); }
        catch (OperationCanceledException) { return true; }
        try
        {
            if (Active is not null) return true;
            Generation generation;
            var checkpoint = Config.Orchestration.StateHandoff.Enabled ? _checkpoints.Latest : null;
            try { generation = await StartGenerationAsync(Config, restoreFrom: checkpoint).ConfigureAwait(false); }
            catch (SpawnException e)
            {
                _log.Error("generation.spawn", e.Message);
                return false;
            }
            if (_lastGenerationNumber > 1) _restarts++;
            ReadinessResult result;
            try { result = await ReadinessWaiter.WaitAsync(generation, Config.Readiness, Listeners, cancel).ConfigureAwait(false); }
            catch (OperationCanceledException) { return true; } // the stop sequence takes care of it
            switch (result)
            {
                case ReadinessResult.Ready ready:
                    if (generation.ExpectsState && generation.RestoreFrom is { } from)
                        _log.Info("generation.restore", await _handover.RestoreAsync(generation, from, Config.Orchestration.StateHandoff).ConfigureAwait(false),
                            ("generation", generation.Number), ("checkpoint_age_s", from.Age.TotalSeconds));
                    Activate(generation, Config);
                    _manager.Send($"READY=1\nSTATUS=generation {generation.Number} active (pid {generation.Pid})\nMAINPID={Environment.ProcessId}");
                    _log.Info("generation.ready", $"generation {generation.Number} (pid {generation.Pid}) is ready ({ready.Signal}) after {generation.Uptime.TotalMilliseconds:0} ms",
                        ("generation", generation.Number), ("pid", generation.Pid));
                    return true;
                case ReadinessResult.Exited exited:
                    _lastActiveExit = exited.Status;
                    _log.Error("generation.exit", $"generation {generation.Number} (pid {generation.Pid}) {exited.Status} before it was ready");
                    Forget(generation);
                    return false;
                default:
                    _log.Error("generation.timeout", $"generation {generation.Number} (pid {generation.Pid}) was not ready within {Config.Readiness.Timeout.TotalSeconds:0.#} s; killing it");
                    generation.KillGroup();
                    await generation.Exited.ConfigureAwait(false);
                    Forget(generation);
                    return false;
            }
        }
        finally { _operation.Release(); }
    }

    /// <summary>
    /// Starts generation n+1 with <paramref name="config"/> (not yet active);
    /// <paramref name="stateSource"/> is the generation whose state it will take over, in a relay.
    /// </summary>
    public async Task<Generation> StartGenerationAsync(AeternaConfig config, Generation? stateSource = null, Checkpoint? restoreFrom = null)
    {
        int number = Interlocked.Increment(ref _lastGenerationNumber);
        var generation = await _launcher.StartAsync(number, config, stateSource, restoreFrom).ConfigureAwait(false);
        lock (_gate) _generations.Add(generation);
        _log.Info("generation.start", $"generation {number} started: pid {generation.Pid}: {string.Join(' ', config.Service.Command)}",
            ("generation", number), ("pid", generation.Pid));
        return generation;
    }

    /// <summary>Makes <paramref name="generation"/> the one the supervisor keeps running, with its config.</summary>
    public void Activate(Generation generation, AeternaConfig config)
    {
        generation.MarkReady();
        generation.State = GenerationState.Active;
        Config = config;
        Active = generation;
    }

    /// <summary>Drains and stops a generation that is no longer wanted, then forgets it.</summary>
    public async Task<(ExitStatus Status, bool Killed)> RetireAsync(Generation generation, TimeSpan drainTimeout)
    {
        _log.Info("generation.retire", $"generation {generation.Number} (pid {generation.Pid}): SIGTERM, drain timeout {drainTimeout.TotalSeconds:0.#} s",
            ("generation", generation.Number), ("pid", generation.Pid));
        var result = await generation.StopAsync(drainTimeout).ConfigureAwait(false);
        _log.Info("generation.exit", $"generation {generation.Number} (pid {generation.Pid}) {result.Status}{(result.Killed ? " (killed at the drain timeout)" : "")}",
            ("generation", generation.Number), ("pid", generation.Pid), ("code", result.Status.ShellCode));
        Forget(generation);
        return result;
    }

    public void Forget(Generation generation)
    {
        lock (_gate) _generations.Remove(generation);
        generation.Dispose();
    }

    /// <summary>AETERNA_SOCKET: state_handoff.socket_path (the config resolves its default, beside the control socket).</summary>
    private static string SessionSocketPath(AeternaConfig config) => config.Orchestration.StateHandoff.SocketPath;

    /// <summary>The live generation started with <paramref name="token"/> (AETERNA_TOKEN), for a session being opened.</summary>
    private Generation? FindGeneration(string token)
    {
        lock (_gate)
            return _generations.FirstOrDefault(g => !g.HasExited && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                System.Text.Encoding.ASCII.GetBytes(g.Token), System.Text.Encoding.ASCII.GetBytes(token)));
    }

    /// <summary>
    /// WELCOME for a generation opening its session: it must wait for state (not accept yet) when
    /// a relay started it to take over a stateful generation and both hold state.
    /// </summary>
    private WelcomeMessage Welcome(Generation generation, HelloMessage hello)
    {
        var handoff = generation.Config.Orchestration.StateHandoff;
        var source = generation.StateSource;
        bool fromGeneration = handoff.Enabled && hello.Stateful && source is { HasExited: false, Session.Stateful: true };
        bool fromCheckpoint = handoff.Enabled && hello.Stateful && source is null && generation.RestoreFrom is not null;
        generation.ExpectsState = fromGeneration || fromCheckpoint;
        return new WelcomeMessage
        {
            Version = 1,
            Generation = generation.Number,
            ExpectState = generation.ExpectsState,
            FromGeneration = fromGeneration ? source!.Number : null,
            FromCheckpoint = fromCheckpoint,
            CheckpointIntervalMs = handoff.CheckpointInterval.TotalMilliseconds,
            Mechanism = handoff.Mechanism.ToString().ToLowerInvariant(),
            MaxFrameSize = FrameChannel.DefaultMaxPayload,
            MaxStateSize = handoff.MaxStateSize,
            TimeoutMs = handoff.Timeout.TotalMilliseconds,
            DrainTimeoutMs = generation.Config.Orchestration.DrainTimeout.TotalMilliseconds,
            // Three reports fit in the health timeout, so one late report is not silence.
            HealthIntervalMs = Math.Min(1000, generation.Config.Orchestration.Canary.HealthTimeout.TotalMilliseconds / 3),
        };
    }

    /// <summary>A CHECKPOINT from a generation: kept when it comes from the active one (a frozen or retiring one's state is no longer the service's).</summary>
    private void OnCheckpoint(GenerationSession session, Frame frame)
    {
        if (session.Generation != Active || session.Generation.State != GenerationState.Active) return;
        if (_checkpoints.Accept(frame, session.Generation.Number) is { } problem)
            _log.Warn("checkpoint.refused", $"generation {session.Generation.Number} sent an unusable checkpoint: {problem}");
        else if (_checkpoints.Latest is { } checkpoint)
            _observability.CheckpointTaken(session.Generation.Number, checkpoint.StateBytes + checkpoint.RegionBytes);
    }

    /// <summary>The last checkpoint's age, or null without one (for status and metrics).</summary>
    public TimeSpan? CheckpointAge => _checkpoints?.Latest?.Age;

    /// <summary>What a relay cannot change (the supervisor holds it for its whole life), or null.</summary>
    public string? UnchangeableDifference(AeternaConfig next)
    {
        static string Describe(IEnumerable<ListenerConfig> ls) => string.Join(", ", ls.Select(l => $"{l.Name}={l.Address}"));
        if (Describe(next.Listeners) != Describe(Config.Listeners) || !next.Listeners.Select(l => l.Backlog).SequenceEqual(Config.Listeners.Select(l => l.Backlog)))
            return $"the listeners changed (from [{Describe(Config.Listeners)}] to [{Describe(next.Listeners)}]): the supervisor binds them once for its whole life. Fix: restore them in the config, or restart the supervisor to change them";
        if (next.Control.SocketPath != Config.Control.SocketPath)
            return $"control.socket_path changed (from {Config.Control.SocketPath} to {next.Control.SocketPath}). Fix: restore it, or restart the supervisor to change it";
        if (SessionSocketPath(next) != SessionSocketPath(Config))
            return $"state_handoff.socket_path changed (from {SessionSocketPath(Config)} to {SessionSocketPath(next)}). Fix: restore it, or restart the supervisor to change it";
        return null;
    }

    /// <summary>Runs a relay unless one is running already; never throws for relay failures.</summary>
    public async Task<RelayReport> RelayAsync(string trigger, RelayOptions options, Action<RelayProgress>? progress = null)
    {
        var report = new RelayReport { Id = Interlocked.Increment(ref _lastRelayId), Trigger = trigger };
        // Another relay: refuse at once. The restart loop also takes the lock, briefly, when a
        // retired generation exits: wait a moment for it rather than refuse a relay for nothing.
        bool mine = !_stopping.IsCancellationRequested
            && (_operation.Wait(0) || (_runningRelay is null && await _operation.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false)));
        if (!mine)
        {
            report.Outcome = RelayOutcome.Refused;
            var running = _runningRelay;
            report.Reason = _stopping.IsCancellationRequested ? "the supervisor is stopping"
                : running is not null ? $"relay {running.Id} (from {running.Trigger}) is running, in phase '{_runningPhase}'; one relay at a time: wait for it to finish (dotnet aeterna status shows it)"
                : "the supervisor is restarting a generation that exited (back-off or start in progress); try again when `status` shows one active";
            _log.Warn("relay.refused", $"relay {report.Id} ({trigger}) refused: {report.Reason}");
            _observability.RelayFinished(report, Config);
            return report;
        }
        try
        {
            _runningRelay = report;
            _rollback = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            _relayDone = new TaskCompletionSource<RelayReport>(TaskCreationOptions.RunContinuationsAsynchronously);
            options = options with { RollbackRequested = _rollback.Task };
            _manager.Send($"RELOADING=1\nSTATUS=relay {report.Id} running");
            _log.Info("relay.start", $"relay {report.Id} ({trigger}): from generation {Active?.Number} (pid {Active?.Pid})", ("relay", report.Id));
            await _relay.RunAsync(report, options, p =>
            {
                if (p.Started) _runningPhase = p.Phase;
                _observability.RelayProgressed(report, p);
                progress?.Invoke(p);
            }, _stopping.Token).ConfigureAwait(false);
            _log.Write(report.Outcome == RelayOutcome.Committed ? Configuration.LogLevel.Info : Configuration.LogLevel.Warn, "relay.end",
                report.Outcome == RelayOutcome.Committed
                    ? $"relay {report.Id} committed in {report.TotalMilliseconds:0} ms: generation {report.ToGeneration} (pid {report.ToPid}) is active"
                    : $"relay {report.Id} {Describe(report.Outcome)} after {report.TotalMilliseconds:0} ms: {report.Reason}",
                [("relay", report.Id), ("outcome", report.Outcome.ToString()), ("ms", report.TotalMilliseconds)]);
            return report;
        }
        finally
        {
            _observability.RelayFinished(report, Config);
            _runningRelay = null;
            _runningPhase = null;
            _relayDone?.TrySetResult(report);
            if (Active is { } active)
                _manager.Send($"READY=1\nSTATUS=generation {active.Number} active (pid {active.Pid})");
            _operation.Release();
        }
    }

    /// <summary>
    /// Rolls back the relay in its soak (dotnet aeterna rollback): returns the task of its report,
    /// or null and why not when there is no relay soaking.
    /// </summary>
    public (Task<RelayReport>? Done, string? Refusal) RequestRollback(string who)
    {
        var (running, phase, rollback, done) = (_runningRelay, _runningPhase, _rollback, _relayDone);
        if (running is null || rollback is null || done is null)
            return (null, "no relay is running: rollback applies to a relay in its soak (the last committed relay cannot be undone; relay to the previous version instead)");
        if (phase != "soak")
            return (null, $"relay {running.Id} is in phase '{phase}', not soaking: only a soaking relay can be rolled back (earlier phases fail on their own; after the commit relay to the previous version)");
        rollback.TrySetResult(who);
        _log.Warn("relay.rollback", $"relay {running.Id}: rollback requested by {who}");
        return (done.Task, null);
    }

    internal static string Describe(RelayOutcome outcome) => outcome switch
    {
        RelayOutcome.Committed => "committed",
        RelayOutcome.Refused => "refused",
        RelayOutcome.NotReady => "failed: new generation not ready",
        _ => "rolled back",
    };

    /// <summary>Begins the graceful stop (SIGTERM, SIGINT, SIGQUIT or the control socket's stop).</summary>
    public void RequestStop(int signal)
    {
        if (_stopping.IsCancellationRequested) return;
        _stopSignal = signal;
        _log.Info("supervisor.stop", $"stopping on {Libc.SignalName(signal)}: every generation gets {Libc.SignalName(signal)}, SIGKILL after drain_timeout {Config.Orchestration.DrainTimeout.TotalSeconds:0.#} s");
        _stopping.Cancel();
    }

    /// <summary>Forwards a signal the supervisor does not act on itself (SIGUSR1, SIGUSR2) to the active generation.</summary>
    public void Forward(int signal)
    {
        var active = Active;
        bool sent = active?.Signal(signal) ?? false;
        _log.Info("signal.forward", sent ? $"forwarded {Libc.SignalName(signal)} to generation {active!.Number} (pid {active.Pid})" : $"{Libc.SignalName(signal)}: no active generation to forward it to");
    }

    private async Task<int> StopAllAsync()
    {
        // A relay in progress sees the cancellation and abandons its new generation; wait for it.
        await _operation.WaitAsync().ConfigureAwait(false);
        Generation[] all;
        lock (_gate) all = [.. _generations];
        var active = Active;
        var drain = Config.Orchestration.DrainTimeout;
        var stops = all.Select(async g =>
        {
            var (status, killed) = await g.StopAsync(drain, _stopSignal).ConfigureAwait(false);
            _log.Info("generation.exit", $"generation {g.Number} (pid {g.Pid}) {status}{(killed ? " (killed at the drain timeout)" : "")}",
                ("generation", g.Number), ("pid", g.Pid), ("code", status.ShellCode));
            return (g, status);
        }).ToArray();
        var results = await Task.WhenAll(stops).ConfigureAwait(false);
        foreach (var g in all) Forget(g);
        var activeExit = results.FirstOrDefault(r => r.g == active).status;
        return active is not null ? activeExit.ShellCode : _lastActiveExit?.ShellCode ?? 0;
    }

    /// <summary>A consistent picture for `status`.</summary>
    public StatusSnapshot Snapshot()
    {
        lock (_gate)
        {
            return _observability.Complete(new StatusSnapshot(
                Config.Service.Name,
                Environment.ProcessId,
                ConfigPath,
                (DateTimeOffset.UtcNow - StartedAt).TotalSeconds,
                Active?.Number,
                _runningRelay is { } r ? $"relay {r.Id} in phase '{_runningPhase}'" : null,
                _restarts,
                _reaper.OrphansReaped,
                Listeners.Select(l => new ListenerStatus(l.Name, l.BoundAddress)).ToList(),
                _generations.Select(g => new GenerationStatus(g.Number, g.Pid, g.State.ToString().ToLowerInvariant(),
                    g.Uptime.TotalSeconds, g.StatusText, g == Active)
                {
                    Ready = g.State is not (GenerationState.Starting or GenerationState.Exited),
                    Stateful = g.Session?.Stateful,
                    StateBytes = _observability.StateBytes(g.Number),
                }).ToList(),
                _observability.History.Recent(10)));
        }
    }
}
