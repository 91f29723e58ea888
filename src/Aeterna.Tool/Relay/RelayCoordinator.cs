using System.Diagnostics;
using Aeterna.Tool.Control;
using Aeterna.Tool.Logging;
using Aeterna.Tool.Notify;

namespace Aeterna.Tool.Relay;

/// <summary>
/// One relay or crash restart at a time; the relay that is running, and the phase it is in; a
/// rollback asked for while it soaks. A relay asked for while another one runs is refused at once
/// (its report says which one and where it is); every relay, refused or not, ends in
/// <paramref name="finished"/> (metrics, the history).
/// </summary>
internal sealed class RelayCoordinator(
    RelayOrchestrator orchestrator, IRelayGenerations generations, SupervisorNotifier manager, EventLog log,
    int lastRelayId, Action<RelayReport> finished, CancellationToken stopping)
{
    private readonly SemaphoreSlim _operation = new(1, 1);
    private int _lastRelayId = lastRelayId; // relay ids go on across supervisor restarts (from the history)
    private RunningRelay? _running;

    /// <summary>The relay in progress, or null.</summary>
    public RelayInProgress? Running => Volatile.Read(ref _running)?.Describe();

    /// <summary>Runs a relay unless one is running already; never throws for relay failures.</summary>
    public async Task<RelayReport> RelayAsync(string trigger, RelayOptions options, Action<RelayProgress>? progress = null)
    {
        var report = new RelayReport { Id = Interlocked.Increment(ref _lastRelayId), Trigger = trigger };
        // Another relay: refuse at once. The restart loop also takes the lock, briefly, when a
        // retired generation exits: wait a moment for it rather than refuse a relay for nothing.
        bool mine = !stopping.IsCancellationRequested
            && (_operation.Wait(0) || (Volatile.Read(ref _running) is null && await _operation.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false)));
        if (!mine)
        {
            report.Outcome = RelayOutcome.Refused;
            report.Reason = stopping.IsCancellationRequested ? "the supervisor is stopping"
                : Running is { } running ? $"relay {running.Id} (from {running.Trigger}) is running, in phase '{WireName.Of(running.Phase)}'; one relay at a time: wait for it to finish (dotnet aeterna status shows it)"
                : "the supervisor is restarting a generation that exited (back-off or start in progress); try again when `status` shows one active";
            log.Warn("relay.refused", $"relay {report.Id} ({trigger}) refused: {report.Reason}");
            finished(report);
            return report;
        }
        var relay = new RunningRelay(report);
        try
        {
            Volatile.Write(ref _running, relay);
            manager.Send($"RELOADING=1\nSTATUS=relay {report.Id} running");
            var from = generations.Active;
            log.Info("relay.start", $"relay {report.Id} ({trigger}): from generation {from?.Number} (pid {from?.Pid})", ("relay", report.Id));
            await orchestrator.RunAsync(report, options with { RollbackRequested = relay.RollbackRequested }, p =>
            {
                relay.Progressed(p);
                progress?.Invoke(p);
            }, stopping).ConfigureAwait(false);
            log.Write(report.Outcome == RelayOutcome.Committed ? Configuration.LogLevel.Info : Configuration.LogLevel.Warn, "relay.end",
                report.Outcome == RelayOutcome.Committed
                    ? $"relay {report.Id} committed in {report.TotalMilliseconds:0} ms: generation {report.ToGeneration} (pid {report.ToPid}) is active"
                    : $"relay {report.Id} {Describe(report.Outcome)} after {report.TotalMilliseconds:0} ms: {report.Reason}",
                [("relay", report.Id), ("outcome", WireName.Of(report.Outcome)), ("ms", report.TotalMilliseconds)]);
            return report;
        }
        finally
        {
            finished(report);
            Volatile.Write(ref _running, null);
            relay.Ended(report);
            if (generations.Active is { } active)
                manager.Send($"READY=1\nSTATUS=generation {active.Number} active (pid {active.Pid})");
            _operation.Release();
        }
    }

    /// <summary>
    /// Rolls back the relay in its soak (dotnet aeterna rollback): returns the task of its report,
    /// or null and why not when there is no relay soaking.
    /// </summary>
    public (Task<RelayReport>? Done, string? Refusal) RequestRollback(string who)
    {
        var relay = Volatile.Read(ref _running);
        if (relay is null)
            return (null, "no relay is running: rollback applies to a relay in its soak (the last committed relay cannot be undone; relay to the previous version instead)");
        var phase = relay.Phase;
        if (phase != RelayPhase.Soak)
            return (null, $"relay {relay.Report.Id} is in phase '{WireName.Of(phase)}', not soaking: only a soaking relay can be rolled back (earlier phases fail on their own; after the commit relay to the previous version)");
        relay.RequestRollback(who);
        log.Warn("relay.rollback", $"relay {relay.Report.Id}: rollback requested by {who}");
        return (relay.Done, null);
    }

    /// <summary>A restart of the active generation: waits until no relay (or other restart) runs; disposing the lease ends it.</summary>
    public async Task<IDisposable> BeginRestartAsync(CancellationToken cancel)
    {
        await _operation.WaitAsync(cancel).ConfigureAwait(false);
        return new Lease(_operation);
    }

    /// <summary>For the stop: waits for the relay or restart in progress (it sees the cancellation) and lets none begin after it.</summary>
    public Task HoldForStopAsync() => _operation.WaitAsync();

    private static string Describe(RelayOutcome outcome) => outcome switch
    {
        RelayOutcome.Committed => "committed",
        RelayOutcome.Refused => "refused",
        RelayOutcome.NotReady => "failed: new generation not ready",
        _ => "rolled back",
    };

    private sealed class Lease(SemaphoreSlim operation) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) operation.Release();
        }
    }

    /// <summary>The relay that holds the lock: its phase and since when, its rollback request, its end.</summary>
    private sealed class RunningRelay(RelayReport report)
    {
        private readonly TaskCompletionSource<string> _rollback = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<RelayReport> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _phase = (int)RelayPhase.Config; // a relay begins with its config
        private long _phaseStarted; // Stopwatch timestamp of the running phase; 0 between phases

        public RelayReport Report { get; } = report;

        public RelayPhase Phase => (RelayPhase)Volatile.Read(ref _phase);

        public Task<string> RollbackRequested => _rollback.Task;

        public Task<RelayReport> Done => _done.Task;

        public void Progressed(RelayProgress progress)
        {
            if (progress.Started) Volatile.Write(ref _phase, (int)progress.Phase);
            Interlocked.Exchange(ref _phaseStarted, progress.Started ? Stopwatch.GetTimestamp() : 0);
        }

        public void RequestRollback(string who) => _rollback.TrySetResult(who);

        public void Ended(RelayReport report) => _done.TrySetResult(report);

        public RelayInProgress Describe()
        {
            long started = Interlocked.Read(ref _phaseStarted);
            return new RelayInProgress(Report.Id, Report.Trigger, Phase, started == 0 ? null : Stopwatch.GetElapsedTime(started));
        }
    }
}

/// <summary>A relay in progress, as status shows it: which, asked for by what, in which phase, for how long.</summary>
internal sealed record RelayInProgress(int Id, string Trigger, RelayPhase Phase, TimeSpan? InPhase)
{
    public override string ToString() => $"relay {Id} in phase '{WireName.Of(Phase)}'";
}
