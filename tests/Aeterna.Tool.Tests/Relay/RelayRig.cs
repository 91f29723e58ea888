using Aeterna.Tests.Support;
using Aeterna.Tool.Configuration;
using Aeterna.Tool.Logging;
using Aeterna.Tool.Notify;
using Aeterna.Tool.Processes;
using Aeterna.Tool.Readiness;
using Aeterna.Tool.Relay;
using Aeterna.Tool.Supervision;
using Aeterna.Tool.Tests.Supervision;

namespace Aeterna.Tool.Tests.Relay;

/// <summary>
/// The relay state machine (<see cref="RelayOrchestrator"/>, and <see cref="RelayCoordinator"/> in
/// front of it) with every step played by the test: each step succeeds unless a test says
/// otherwise, and <see cref="When"/> acts at the start of a phase. Generation 1 is active.
/// </summary>
internal sealed class RelayRig : IDisposable
{
    private readonly MemoryStream _log = new();
    private readonly Dictionary<RelayPhase, Action<Generation?>> _when = [];
    private readonly CancellationTokenSource _stopping = new();

    public RelayRig(TestConfig? config = null)
    {
        Generations = new TestGenerations(config);
        Set = new FakeGenerations(Generations);
        Set.Activate(Set.StartAsync(Generations.Config).Result);
        Old = Set.Active!;
        Set.Calls.Clear();
        Log = new EventLog(LogFormat.Text, Aeterna.Tool.Configuration.LogLevel.Debug, _log);
        Orchestrator = new RelayOrchestrator(Set, Desired, Preflight, Readiness, Handover, Canary, Log);
        Coordinator = new RelayCoordinator(Orchestrator, Set, new SupervisorNotifier(null), Log, lastRelayId: 0, Finished.Add, _stopping.Token);
    }

    public TestGenerations Generations { get; }

    public FakeGenerations Set { get; }

    /// <summary>Generation 1, active when the relay starts.</summary>
    public Generation Old { get; }

    /// <summary>The generation the relay started (after the start phase).</summary>
    public Generation? Next => Set.Started.Count > 1 ? Set.Started[^1] : null;

    public EventLog Log { get; }

    public FakeDesiredConfig Desired { get; } = new();

    public FakePreflight Preflight { get; } = new();

    public FakeReadiness Readiness { get; } = new();

    public FakeHandover Handover { get; } = new();

    public FakeCanary Canary { get; } = new();

    public RelayOrchestrator Orchestrator { get; }

    public RelayCoordinator Coordinator { get; }

    /// <summary>Every progress event, in order.</summary>
    public List<RelayProgress> Progress { get; } = [];

    /// <summary>What the coordinator reported as finished (metrics and history would get these).</summary>
    public List<RelayReport> Finished { get; } = [];

    public string LogText => System.Text.Encoding.UTF8.GetString(_log.ToArray());

    /// <summary>Runs <paramref name="act"/> (with the new generation, once started) when <paramref name="phase"/> starts.</summary>
    public void When(RelayPhase phase, Action<Generation?> act) => _when[phase] = act;

    /// <summary>The supervisor begins to stop (what the orchestrator's token and the coordinator see).</summary>
    public void Stop() => _stopping.Cancel();

    /// <summary>One relay through the orchestrator alone, with the desired config's soak unless <paramref name="soak"/> says otherwise.</summary>
    public async Task<RelayReport> RunAsync(TimeSpan? soak = null, Task<string>? rollback = null)
    {
        Desired.Config ??= Generations.Config;
        var report = new RelayReport { Id = 1, Trigger = "test" };
        await Orchestrator.RunAsync(report, new RelayOptions(soak, rollback), OnProgress, _stopping.Token).WaitAsync(TimeSpan.FromSeconds(10));
        return report;
    }

    /// <summary>One relay through the coordinator, as SIGHUP or the control socket ask for it.</summary>
    public Task<RelayReport> RelayAsync(string trigger = "test", TimeSpan? soak = null)
    {
        Desired.Config ??= Generations.Config;
        return Coordinator.RelayAsync(trigger, new RelayOptions(soak), OnProgress);
    }

    private void OnProgress(RelayProgress progress)
    {
        lock (Progress) Progress.Add(progress);
        if (progress.Started && _when.TryGetValue(progress.Phase, out var act)) act(Next);
    }

    public void Dispose()
    {
        Generations.Dispose();
        _stopping.Dispose();
    }
}

/// <summary>The set of generations: starts test generations and records what the relay does with them.</summary>
internal sealed class FakeGenerations(TestGenerations generations) : IRelayGenerations
{
    public Generation? Active { get; private set; }

    public List<Generation> Started { get; } = [];

    /// <summary>"start 2", "activate 2", "retire 1", "discard 2", in order.</summary>
    public List<string> Calls { get; } = [];

    /// <summary>Set to make the next start fail as posix_spawn can.</summary>
    public SpawnException? StartFails { get; set; }

    /// <summary>Whether a retired generation needs SIGKILL at its drain timeout.</summary>
    public bool RetireKills { get; set; }

    public Task<Generation> StartAsync(AeternaConfig config, Generation? stateSource = null, Aeterna.Tool.Checkpoints.Checkpoint? restoreFrom = null)
    {
        if (StartFails is { } failure) throw failure;
        var generation = generations.Start(config, stateSource);
        Started.Add(generation);
        Calls.Add($"start {generation.Number}");
        return Task.FromResult(generation);
    }

    public void Activate(Generation generation)
    {
        generation.Activate();
        Active = generation;
        Calls.Add($"activate {generation.Number}");
    }

    public Task<(ExitStatus Status, bool Killed)> RetireAsync(Generation generation, TimeSpan drainTimeout)
    {
        Calls.Add($"retire {generation.Number}");
        var status = RetireKills ? new ExitStatus(0, 9) : new ExitStatus(0, 0);
        generations.Exit(generation, status);
        return Task.FromResult((status, RetireKills));
    }

    public Task DiscardAsync(Generation generation)
    {
        Calls.Add($"discard {generation.Number}");
        generations.Exit(generation, new ExitStatus(0, 9));
        return Task.CompletedTask;
    }
}

internal sealed class FakeDesiredConfig : IDesiredConfig
{
    public AeternaConfig? Config { get; set; }

    /// <summary>Set to refuse the config, as an invalid file or a changed listener does.</summary>
    public string? Invalid { get; set; }

    public AeternaConfig Read() => Invalid is { } why ? throw new RelayFailedException(RelayOutcome.Refused, why) : Config!;
}

internal sealed class FakePreflight : IPreflight
{
    /// <summary>Set to fail the check.</summary>
    public string? Fails { get; set; }

    /// <summary>Set to hold the pre-flight until it completes.</summary>
    public Task? Hold { get; set; }

    public string? SchemaSeen { get; private set; }

    public async Task RunAsync(AeternaConfig config, string? runningSchema, List<PreflightResult> results, CancellationToken cancel)
    {
        SchemaSeen = runningSchema;
        if (Hold is { } hold) await hold.WaitAsync(cancel);
        results.Add(new PreflightResult("./check.sh", Fails is null, Fails is null ? "exited with code 0" : "exited with code 1", 1, ""));
        if (Fails is { } why) throw new RelayFailedException(RelayOutcome.Refused, why);
    }
}

internal sealed class FakeReadiness : IReadiness
{
    /// <summary>What the wait ends with; null waits until the relay is cancelled.</summary>
    public ReadinessResult? Result { get; set; } = new ReadinessResult.Ready("READY=1");

    public async Task<ReadinessResult> WaitAsync(Generation generation, ReadinessConfig config, CancellationToken cancel)
    {
        if (Result is { } result) return result;
        await Task.Delay(Timeout.Infinite, cancel);
        throw new InvalidOperationException("unreachable");
    }
}

/// <summary>The state hand-over: none (stateless) unless the test gives one, and what the rollback did.</summary>
internal sealed class FakeHandover : IStateHandover
{
    /// <summary>What the hand-over moved; null for a stateless service.</summary>
    public HandoverReport? Moves { get; set; }

    /// <summary>Set to fail the hand-over (after which the real one has resumed the exporter).</summary>
    public string? Fails { get; set; }

    public List<string> RolledBack { get; } = [];

    public Task<HandoverReport?> HandOverAsync(Generation from, Generation to, AeternaConfig config, CancellationToken cancel)
    {
        if (Moves is null && Fails is null) return Task.FromResult<HandoverReport?>(null);
        from.Freeze();
        if (Fails is { } why)
        {
            from.Resume();
            throw new RelayFailedException(RelayOutcome.RolledBack, why);
        }
        return Task.FromResult(Moves);
    }

    public Task<string> RollBackAsync(Generation from, Generation to, AeternaConfig config, CancellationToken cancel)
    {
        RolledBack.Add($"{to.Number} -> {from.Number}");
        from.Resume();
        return Task.FromResult($"generation {to.Number} handed its state back to generation {from.Number}");
    }
}

internal sealed class FakeCanary : ICanary
{
    private readonly TaskCompletionSource<string> _fails = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The canary sees the new generation fail.</summary>
    public void Fail(string why) => _fails.TrySetResult(why);

    public Task<string> WatchAsync(Generation next, AeternaConfig config, CancellationToken cancel) => _fails.Task.WaitAsync(cancel);
}
