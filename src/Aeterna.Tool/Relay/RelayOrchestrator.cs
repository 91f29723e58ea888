using System.Diagnostics;
using System.Text.Json.Serialization;
using Aeterna.Tool.Configuration;
using Aeterna.Tool.Control;
using Aeterna.Tool.Logging;
using Aeterna.Tool.Processes;
using Aeterna.Tool.Readiness;
using Aeterna.Tool.Supervision;

namespace Aeterna.Tool.Relay;

/// <summary>Options of one relay request.</summary>
/// <param name="SoakOverride">Soak time for this relay instead of canary.soak_time (relay --soak).</param>
/// <param name="RollbackRequested">Completes (with who asked) when a rollback is requested during the soak (dotnet aeterna rollback).</param>
internal sealed record RelayOptions(TimeSpan? SoakOverride = null, Task<string>? RollbackRequested = null);

/// <summary>A phase starting or ending, for the CLI's live progress.</summary>
internal sealed record RelayProgress(RelayPhase Phase, bool Started, [property: JsonPropertyName("ms")] double Milliseconds = 0, bool Ok = true, string? Detail = null);

/// <summary>
/// A relay, step by step: re-read the config, pre-flight, start n+1, wait for it to be ready,
/// hand over state, soak, commit. Each step either returns or throws
/// <see cref="RelayFailedException"/>, and the catch at the bottom makes sure the old generation
/// is left serving. What each step does to the world is behind a small interface, so that this
/// state machine is tested on its own.
/// </summary>
internal sealed class RelayOrchestrator(
    IRelayGenerations generations, IDesiredConfig desired, IPreflight preflight, IReadiness readiness,
    IStateHandover handover, ICanary canary, EventLog log)
{
    public async Task RunAsync(RelayReport report, RelayOptions options, Action<RelayProgress> progress, CancellationToken cancel)
    {
        var started = Stopwatch.GetTimestamp();
        Generation? old = generations.Active;
        Generation? next = null;
        bool handedOver = false;
        report.FromGeneration = old?.Number;
        report.FromPid = old?.Pid;
        try
        {
            if (old is null)
                throw new RelayFailedException(RelayOutcome.Refused, "no generation is running to relay from (the supervisor is restarting it); try again when `status` shows it active");

            // 1. Re-read the config: it is the desired state. Invalid: refuse, nothing changes.
            var config = await Phase(report, progress, RelayPhase.Config, () => Task.FromResult((desired.Read(), "valid")));

            // 2. Pre-flight: the built-in checks and the configured commands. Failure: refuse.
            await Phase(report, progress, RelayPhase.Preflight, async () =>
            {
                await preflight.RunAsync(config, old.Session?.Hello.Schema, report.Preflight, cancel);
                return (true, $"{report.Preflight.Count} check(s) passed");
            });

            // 3. Start n+1 beside n, with the same listening sockets. Cannot be spawned: n is untouched.
            next = await Phase(report, progress, RelayPhase.Start, async () =>
            {
                try
                {
                    var generation = await generations.StartAsync(config, stateSource: old);
                    return (generation, $"generation {generation.Number}, pid {generation.Pid}");
                }
                catch (SpawnException e)
                {
                    throw new RelayFailedException(RelayOutcome.NotReady, $"the new generation could not be started: {e.Message}");
                }
            });
            report.ToGeneration = next.Number;
            report.ToPid = next.Pid;

            // 4. Ready: n+1 says so (or the readiness fallback sees it). Timeout or exit: kill it; n is untouched.
            await Phase(report, progress, RelayPhase.Ready, async () =>
            {
                var result = await readiness.WaitAsync(next, config.Readiness, cancel);
                return result switch
                {
                    ReadinessResult.Ready ready => (true, ready.Signal),
                    ReadinessResult.Exited exited => throw new RelayFailedException(RelayOutcome.NotReady,
                        $"generation {next.Number} {exited.Status} before it was ready"),
                    ReadinessResult.TimedOut t => throw new RelayFailedException(RelayOutcome.NotReady,
                        $"generation {next.Number} was not ready within {t.After.TotalSeconds:0.#} s (readiness.mode {config.Readiness.Mode.ToString().ToLowerInvariant()}, readiness.timeout {config.Readiness.Timeout.TotalSeconds:0.#} s)"),
                    _ => throw new UnreachableException(),
                };
            });
            next.MarkReady();

            // 5. Hand over state (stateful services): n stops accepting, finishes its requests in flight
            // and exports straight to n+1, which imports and starts accepting. Stateless: nothing.
            await Phase(report, progress, RelayPhase.Handover, async () =>
            {
                report.Handover = await handover.HandOverAsync(old, next, config, cancel);
                handedOver = report.Handover is not null;
                return (true, report.Handover is null ? "stateless: nothing to hand over" : StateHandover.Describe(report.Handover));
            });

            // 6. Soak: n+1 serves under watch (stateless: beside n; stateful: n waits frozen as the
            // rollback target); failure rolls back.
            var soak = options.SoakOverride ?? (config.Orchestration.Canary.Enabled ? config.Orchestration.Canary.SoakTime : TimeSpan.Zero);
            await Phase(report, progress, RelayPhase.Soak, async () => (true, await SoakAsync(next, config, soak, options.RollbackRequested, cancel)));

            // 7. Commit: n+1 becomes the active generation; n drains (a frozen n forwards what its
            // keep-alive clients still send) and exits.
            await Phase(report, progress, RelayPhase.Commit, async () =>
            {
                generations.Activate(next);
                var (status, killed) = await generations.RetireAsync(old, config.Orchestration.DrainTimeout);
                return (true, $"generation {old.Number} drained and {status}{(killed ? $" (SIGKILL after drain_timeout {config.Orchestration.DrainTimeout.TotalSeconds:0.#} s)" : "")}");
            });
            report.Outcome = RelayOutcome.Committed;
        }
        catch (Exception e) when (e is RelayFailedException or OperationCanceledException)
        {
            (report.Outcome, report.Reason) = e is RelayFailedException failed
                ? (failed.Outcome, failed.Message)
                : (next is null ? RelayOutcome.Refused : RelayOutcome.RolledBack, "the supervisor is stopping");
            if (next is not null && generations.Active != next)
            {
                // Roll back: the state goes back to n (handed back by n+1, or n's frozen copy) before n+1 is retired.
                if (handedOver)
                {
                    report.Rollback = await handover.RollBackAsync(old!, next, old!.Config, CancellationToken.None);
                    report.Reason = $"{report.Reason}; {report.Rollback}";
                }
                await AbandonAsync(next, old!.Config, report.Outcome);
            }
        }
        finally
        {
            report.TotalMilliseconds = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
    }

    /// <summary>
    /// Waits <paramref name="soak"/> while n+1 serves; its exit, a missed watchdog, the canary watch
    /// (health, error rate, probe) or a requested rollback fail the relay.
    /// </summary>
    private async Task<string> SoakAsync(Generation next, AeternaConfig config, TimeSpan soak, Task<string>? rollback, CancellationToken cancel)
    {
        if (soak <= TimeSpan.Zero)
            return "skipped (soak time 0)";
        using var soaking = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var elapsed = Task.Delay(soak, cancel);
        var watch = canary.WatchAsync(next, config, soaking.Token);
        rollback ??= new TaskCompletionSource<string>().Task;
        var first = await Task.WhenAny(elapsed, next.Exited, next.WatchdogFailed, watch, rollback);
        soaking.Cancel();
        if (first == rollback)
            throw new RelayFailedException(RelayOutcome.RolledBack, $"rollback requested ({await rollback}) during the soak");
        if (first == next.Exited)
            throw new RelayFailedException(RelayOutcome.RolledBack, $"generation {next.Number} {await next.Exited} during the soak");
        if (first == next.WatchdogFailed)
            throw new RelayFailedException(RelayOutcome.RolledBack, $"generation {next.Number} failed its watchdog during the soak: {await next.WatchdogFailed}");
        if (first == watch)
            throw new RelayFailedException(RelayOutcome.RolledBack, $"the canary failed: {await watch}");
        await elapsed; // throws when the supervisor is stopping
        return next.Health is { } health
            ? $"healthy for {soak.TotalSeconds:0.###} s ({health.Requests} requests served, {health.Errors} failed)"
            : $"healthy for {soak.TotalSeconds:0.###} s";
    }

    /// <summary>Takes n+1 away again. Before it was ready it is killed; once it has served, it drains like any retiring generation.</summary>
    private async Task AbandonAsync(Generation next, AeternaConfig serving, RelayOutcome outcome)
    {
        if (outcome == RelayOutcome.NotReady || next.State == GenerationState.Starting)
            await generations.DiscardAsync(next);
        else
            await generations.RetireAsync(next, serving.Orchestration.DrainTimeout);
    }

    /// <summary>Runs one phase: times it, reports progress, logs it, and records it in the report.</summary>
    private async Task<T> Phase<T>(RelayReport report, Action<RelayProgress> progress, RelayPhase phase, Func<Task<(T Value, string Detail)>> body)
    {
        progress(new RelayProgress(phase, Started: true));
        var started = Stopwatch.GetTimestamp();
        try
        {
            var (value, detail) = await body();
            Record(report, progress, phase, started, true, detail);
            return value;
        }
        catch (Exception e) when (e is RelayFailedException or OperationCanceledException)
        {
            Record(report, progress, phase, started, false, e is RelayFailedException ? e.Message : "cancelled: the supervisor is stopping");
            throw;
        }
    }

    private void Record(RelayReport report, Action<RelayProgress> progress, RelayPhase phase, long started, bool ok, string detail)
    {
        double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        string name = WireName.Of(phase);
        report.Phases.Add(new PhaseResult(phase, ms, ok, detail));
        progress(new RelayProgress(phase, Started: false, ms, ok, detail));
        if (ok) log.Info("relay.phase", $"relay {report.Id}: {name} ok in {ms:0.#} ms: {detail}", ("relay", report.Id), ("phase", name), ("ms", ms));
        else log.Warn("relay.phase", $"relay {report.Id}: {name} failed after {ms:0.#} ms: {detail}", ("relay", report.Id), ("phase", name), ("ms", ms));
    }
}
