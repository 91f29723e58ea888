using Aeterna.Tool.Checkpoints;
using Aeterna.Tool.Logging;
using Aeterna.Tool.Notify;
using Aeterna.Tool.Processes;
using Aeterna.Tool.Readiness;
using Aeterna.Tool.Relay;

namespace Aeterna.Tool.Supervision;

/// <summary>
/// Outside relays: keeps a ready generation active. A generation that dies (or misses its
/// watchdog) is restarted with the current config, from the last checkpoint when there is one,
/// with exponential back-off; the listeners stay open meanwhile, so clients wait in the accept
/// queue instead of being refused. Each restart holds the relay lock, so it never overlaps a relay.
/// </summary>
internal sealed class RestartLoop(
    GenerationSet generations, RelayCoordinator relays, IReadiness readiness, CheckpointStore checkpoints,
    StateHandover handover, SupervisorNotifier manager, EventLog log)
{
    /// <summary>A generation that lived this long resets the back-off.</summary>
    private static readonly TimeSpan Stable = TimeSpan.FromSeconds(10);

    private int _restarts;

    /// <summary>Generations started again after the active one exited or missed its watchdog.</summary>
    public int Restarts => Volatile.Read(ref _restarts);

    /// <summary>How the last active generation that died ended (the exit code when none is active at the stop).</summary>
    public ExitStatus? LastActiveExit { get; private set; }

    /// <summary>Runs until <paramref name="cancel"/> (the stop).</summary>
    public async Task RunAsync(CancellationToken cancel)
    {
        int quickFailures = 0;
        // One for the loop's life: a delay per pass would stay registered on the token until the stop, one per relay.
        var stopped = Task.Delay(Timeout.Infinite, cancel);
        while (!cancel.IsCancellationRequested)
        {
            var active = generations.Active;
            if (active is not null)
            {
                var failure = await Task.WhenAny(active.Exited, active.WatchdogFailed, stopped).ConfigureAwait(false);
                if (cancel.IsCancellationRequested) break;
                IDisposable lease;
                try { lease = await relays.BeginRestartAsync(cancel).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
                using (lease)
                {
                    if (generations.Active != active) continue; // a relay replaced it
                    if (failure == active.WatchdogFailed && !active.HasExited)
                    {
                        log.Error("generation.watchdog", $"generation {active.Number} (pid {active.Pid}) {await active.WatchdogFailed}; killing it");
                        active.KillGroup();
                    }
                    var status = await active.Exited.ConfigureAwait(false);
                    LastActiveExit = status;
                    quickFailures = active.Uptime > Stable ? 0 : quickFailures + 1;
                    generations.Forget(active);
                    log.Error("generation.exit", $"generation {active.Number} (pid {active.Pid}) {status} outside a relay; restarting",
                        ("generation", active.Number), ("pid", active.Pid), ("code", status.ShellCode));
                }
            }

            if (quickFailures > 0)
            {
                var backoff = Backoff(quickFailures);
                log.Info("generation.backoff", $"waiting {backoff.TotalMilliseconds:0} ms before the next start (failure {quickFailures} in a row)");
                try { await Task.Delay(backoff, cancel).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
            }
            if (!await StartActiveAsync(cancel).ConfigureAwait(false))
                quickFailures++;
        }
    }

    private TimeSpan Backoff(int failures)
    {
        var restart = generations.Config.Orchestration.Restart;
        double ms = restart.BackoffInitial.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 30));
        return TimeSpan.FromMilliseconds(Math.Min(ms, restart.BackoffMax.TotalMilliseconds));
    }

    /// <summary>Starts a generation with the current config and makes it active once ready; false when it did not get there.</summary>
    private async Task<bool> StartActiveAsync(CancellationToken cancel)
    {
        IDisposable lease;
        try { lease = await relays.BeginRestartAsync(cancel).ConfigureAwait(false); }
        catch (OperationCanceledException) { return true; }
        using (lease)
        {
            if (generations.Active is not null) return true;
            var config = generations.Config;
            Generation generation;
            var checkpoint = config.Orchestration.StateHandoff.Enabled ? checkpoints.Latest : null;
            try { generation = await generations.StartAsync(config, restoreFrom: checkpoint).ConfigureAwait(false); }
            catch (SpawnException e)
            {
                log.Error("generation.spawn", e.Message);
                return false;
            }
            if (generation.Number > 1) Interlocked.Increment(ref _restarts);
            ReadinessResult result;
            try { result = await readiness.WaitAsync(generation, config.Readiness, cancel).ConfigureAwait(false); }
            catch (OperationCanceledException) { return true; } // the stop sequence takes care of it
            switch (result)
            {
                case ReadinessResult.Ready ready:
                    if (generation.ExpectsState && generation.RestoreFrom is { } from)
                        log.Info("generation.restore", await handover.RestoreAsync(generation, from, config.Orchestration.StateHandoff).ConfigureAwait(false),
                            ("generation", generation.Number), ("checkpoint_age_s", from.Age.TotalSeconds));
                    generations.Activate(generation);
                    manager.Send($"READY=1\nSTATUS=generation {generation.Number} active (pid {generation.Pid})\nMAINPID={Environment.ProcessId}");
                    log.Info("generation.ready", $"generation {generation.Number} (pid {generation.Pid}) is ready ({ready.Signal}) after {generation.Uptime.TotalMilliseconds:0} ms",
                        ("generation", generation.Number), ("pid", generation.Pid));
                    return true;
                case ReadinessResult.Exited exited:
                    LastActiveExit = exited.Status;
                    log.Error("generation.exit", $"generation {generation.Number} (pid {generation.Pid}) {exited.Status} before it was ready");
                    generations.Forget(generation);
                    return false;
                default:
                    log.Error("generation.timeout", $"generation {generation.Number} (pid {generation.Pid}) was not ready within {config.Readiness.Timeout.TotalSeconds:0.#} s; killing it");
                    await generations.DiscardAsync(generation).ConfigureAwait(false);
                    return false;
            }
        }
    }
}
