using Aeterna.Tests.Support;
using Aeterna.Tool.Processes;
using Aeterna.Tool.Readiness;
using Aeterna.Tool.Relay;
using Aeterna.Tool.Supervision;
using Aeterna.Tool.Tests.Supervision;

namespace Aeterna.Tool.Tests.Relay;

/// <summary>
/// The relay state machine on its own: the seven steps in order, each phase's failure and what it
/// leaves behind (which generation serves, which one is killed or drained, where the state goes),
/// rollback, refusal. The real steps (processes, sockets, the hand-over) are tested in the
/// integration set; here each step is played by <see cref="RelayRig"/>.
/// </summary>
public sealed class RelayOrchestratorTests
{
    private static readonly HandoverReport Moved = new("pipe", 52_000, 1, 1 << 20, 0.8, 0.1, 0.3, 0.4);

    private static readonly RelayPhase[] AllPhases =
        [RelayPhase.Config, RelayPhase.Preflight, RelayPhase.Start, RelayPhase.Ready, RelayPhase.Handover, RelayPhase.Soak, RelayPhase.Commit];

    [Fact]
    public async Task A_relay_runs_the_seven_steps_in_order_and_commits()
    {
        using var rig = new RelayRig();
        var report = await rig.RunAsync();

        Assert.Equal(RelayOutcome.Committed, report.Outcome);
        Assert.Null(report.Reason);
        Assert.Equal(AllPhases, report.Phases.Select(p => p.Phase));
        Assert.All(report.Phases, p => Assert.True(p.Ok, p.Detail));
        Assert.Equal(["start 2", "activate 2", "retire 1"], rig.Set.Calls);
        Assert.Same(rig.Next, rig.Set.Active);
        Assert.Equal(GenerationState.Active, rig.Next!.State);
        Assert.Equal((1, 2), (report.FromGeneration, report.ToGeneration));
        Assert.Equal((rig.Old.Pid, rig.Next.Pid), (report.FromPid!.Value, report.ToPid!.Value));
        Assert.Equal("stateless: nothing to hand over", report.Phases.Single(p => p.Phase == RelayPhase.Handover).Detail);
        Assert.Equal("skipped (soak time 0)", report.Phases.Single(p => p.Phase == RelayPhase.Soak).Detail);
        Assert.Equal("generation 1 drained and exited with code 0", report.Phases.Single(p => p.Phase == RelayPhase.Commit).Detail);
        Assert.True(report.TotalMilliseconds >= report.Phases.Sum(p => p.Milliseconds), $"total {report.TotalMilliseconds} ms");

        // Each phase is announced, then reported with the same result as in the report.
        Assert.Equal(AllPhases.SelectMany(p => new[] { (p, true), (p, false) }), rig.Progress.Select(p => (p.Phase, p.Started)));
        Assert.Equal(report.Phases.Select(p => p.Detail), rig.Progress.Where(p => !p.Started).Select(p => p.Detail));
        Assert.Contains("relay 1: commit ok in", rig.LogText);
    }

    [Fact]
    public async Task Without_an_active_generation_the_relay_is_refused_before_any_phase()
    {
        using var rig = new RelayRig();
        var none = new FakeGenerations(rig.Generations); // the active one died: the restart loop has it
        var orchestrator = new RelayOrchestrator(none, rig.Desired, rig.Preflight, rig.Readiness, rig.Handover, rig.Canary, rig.Log);
        var report = new RelayReport { Id = 7, Trigger = "test" };
        await orchestrator.RunAsync(report, new RelayOptions(), rig.Progress.Add, CancellationToken.None);

        Assert.Equal(RelayOutcome.Refused, report.Outcome);
        Assert.StartsWith("no generation is running to relay from", report.Reason);
        Assert.Empty(report.Phases);
        Assert.Empty(rig.Progress);
        Assert.Empty(none.Calls);
        Assert.Null(report.FromGeneration);
    }

    [Fact]
    public async Task An_invalid_config_is_refused_and_nothing_is_started()
    {
        using var rig = new RelayRig();
        rig.Desired.Invalid = "the config is invalid, nothing was changed:\naeterna.yaml:3:5: error: unknown key 'bogus'";
        var report = await rig.RunAsync();

        Assert.Equal(RelayOutcome.Refused, report.Outcome);
        Assert.Equal(rig.Desired.Invalid, report.Reason);
        Assert.Equal([RelayPhase.Config], report.Phases.Select(p => p.Phase));
        Assert.False(report.Phases[0].Ok);
        Assert.Empty(rig.Set.Calls);
        Assert.Same(rig.Old, rig.Set.Active);
        Assert.Equal(GenerationState.Active, rig.Old.State);
    }

    [Fact]
    public async Task A_failed_preflight_is_refused_and_nothing_is_started()
    {
        using var rig = new RelayRig();
        rig.Preflight.Fails = "pre-flight command './check.sh' failed: exited with code 1";
        var report = await rig.RunAsync();

        Assert.Equal(RelayOutcome.Refused, report.Outcome);
        Assert.Equal(rig.Preflight.Fails, report.Reason);
        Assert.Equal([RelayPhase.Config, RelayPhase.Preflight], report.Phases.Select(p => p.Phase));
        Assert.Equal([true, false], report.Phases.Select(p => p.Ok));
        Assert.Single(report.Preflight);
        Assert.Empty(rig.Set.Calls);
        Assert.Null(report.ToGeneration);
    }

    [Fact]
    public async Task A_generation_that_cannot_be_spawned_fails_the_start_and_the_old_one_serves_on()
    {
        using var rig = new RelayRig();
        rig.Set.StartFails = new SpawnException("posix_spawn: Resource temporarily unavailable");
        var report = await rig.RunAsync();

        Assert.Equal(RelayOutcome.NotReady, report.Outcome);
        Assert.Contains("Resource temporarily unavailable", report.Reason);
        Assert.Equal(RelayPhase.Start, report.Phases[^1].Phase);
        Assert.False(report.Phases[^1].Ok);
        Assert.Same(rig.Old, rig.Set.Active);
    }

    [Fact]
    public async Task A_generation_that_exits_before_it_is_ready_is_discarded_and_the_old_one_never_notices()
    {
        using var rig = new RelayRig();
        rig.Readiness.Result = new ReadinessResult.Exited(new ExitStatus(70, 0));
        var report = await rig.RunAsync();

        Assert.Equal(RelayOutcome.NotReady, report.Outcome);
        Assert.Equal("generation 2 exited with code 70 before it was ready", report.Reason);
        Assert.Equal(RelayPhase.Ready, report.Phases[^1].Phase);
        Assert.Equal(["start 2", "discard 2"], rig.Set.Calls);
        Assert.Same(rig.Old, rig.Set.Active);
        Assert.Equal(GenerationState.Active, rig.Old.State);
        Assert.Empty(rig.Handover.RolledBack);
    }

    [Fact]
    public async Task A_generation_not_ready_in_time_is_discarded_with_the_readiness_settings_in_the_reason()
    {
        using var rig = new RelayRig(new TestConfig { Command = ["/bin/true"], ReadyTimeout = "2s" });
        rig.Readiness.Result = new ReadinessResult.TimedOut(TimeSpan.FromSeconds(2));
        var report = await rig.RunAsync();

        Assert.Equal(RelayOutcome.NotReady, report.Outcome);
        Assert.Equal("generation 2 was not ready within 2 s (readiness.mode notify, readiness.timeout 2 s)", report.Reason);
        Assert.Equal(["start 2", "discard 2"], rig.Set.Calls);
    }

    [Fact]
    public async Task A_failed_hand_over_rolls_back_the_old_generation_serves_on_and_the_new_one_drains()
    {
        using var rig = new RelayRig();
        rig.Handover.Fails = "state hand-over failed: generation 2's import failed (corrupt): bad section; generation 1 resumed from the state it froze with";
        var report = await rig.RunAsync();

        Assert.Equal(RelayOutcome.RolledBack, report.Outcome);
        Assert.Equal(rig.Handover.Fails, report.Reason);
        Assert.Equal(RelayPhase.Handover, report.Phases[^1].Phase);
        Assert.Null(report.Handover);
        Assert.Empty(rig.Handover.RolledBack); // nothing moved, nothing to give back
        Assert.Equal(["start 2", "retire 2"], rig.Set.Calls); // it was ready: it drains like any retiring generation
        Assert.Same(rig.Old, rig.Set.Active);
        Assert.Equal(GenerationState.Active, rig.Old.State);
    }

    [Fact]
    public async Task A_stateful_relay_reports_the_hand_over_and_the_old_generation_waits_frozen_during_the_soak()
    {
        using var rig = new RelayRig();
        rig.Handover.Moves = Moved;
        GenerationState? during = null;
        rig.When(RelayPhase.Soak, _ => during = rig.Old.State);
        var report = await rig.RunAsync(soak: TimeSpan.FromMilliseconds(20));

        Assert.Equal(RelayOutcome.Committed, report.Outcome);
        Assert.Same(Moved, report.Handover);
        Assert.Equal(GenerationState.Frozen, during);
        Assert.Equal(StateHandover.Describe(Moved), report.Phases.Single(p => p.Phase == RelayPhase.Handover).Detail);
        Assert.StartsWith("healthy for 0.02 s", report.Phases.Single(p => p.Phase == RelayPhase.Soak).Detail);
        Assert.Equal(["start 2", "activate 2", "retire 1"], rig.Set.Calls);
    }

    [Fact]
    public async Task A_new_generation_that_exits_during_the_soak_rolls_back_and_hands_the_state_back()
    {
        using var rig = new RelayRig();
        rig.Handover.Moves = Moved;
        rig.When(RelayPhase.Soak, next => rig.Generations.Exit(next!, new ExitStatus(70, 0)));
        var report = await rig.RunAsync(soak: TimeSpan.FromSeconds(30));

        Assert.Equal(RelayOutcome.RolledBack, report.Outcome);
        Assert.Equal("generation 2 exited with code 70 during the soak; generation 2 handed its state back to generation 1", report.Reason);
        Assert.Equal("generation 2 handed its state back to generation 1", report.Rollback);
        Assert.Equal(["2 -> 1"], rig.Handover.RolledBack);
        Assert.Equal(RelayPhase.Soak, report.Phases[^1].Phase);
        Assert.False(report.Phases[^1].Ok);
        Assert.Same(rig.Old, rig.Set.Active);
        Assert.Equal(GenerationState.Active, rig.Old.State);
        Assert.Equal(["start 2", "retire 2"], rig.Set.Calls);
    }

    [Fact]
    public async Task A_stateless_relay_that_fails_its_soak_retires_the_new_generation_without_a_hand_back()
    {
        using var rig = new RelayRig();
        rig.When(RelayPhase.Soak, _ => rig.Canary.Fail("generation 2 failed 9 of 10 requests (90%) during the soak; orchestration.canary.max_error_rate is 5%"));
        var report = await rig.RunAsync(soak: TimeSpan.FromSeconds(30));

        Assert.Equal(RelayOutcome.RolledBack, report.Outcome);
        Assert.Equal("the canary failed: generation 2 failed 9 of 10 requests (90%) during the soak; orchestration.canary.max_error_rate is 5%", report.Reason);
        Assert.Null(report.Rollback);
        Assert.Empty(rig.Handover.RolledBack);
        Assert.Equal(["start 2", "retire 2"], rig.Set.Calls);
    }

    [Fact]
    public async Task A_missed_watchdog_during_the_soak_rolls_back()
    {
        using var rig = new RelayRig();
        // The real datagram an app sends with sd_notify(0, "WATCHDOG=trigger").
        rig.When(RelayPhase.Soak, next => TestGenerations.Notify(next!, "WATCHDOG=trigger"));
        var report = await rig.RunAsync(soak: TimeSpan.FromSeconds(30));

        Assert.Equal(RelayOutcome.RolledBack, report.Outcome);
        Assert.Equal("generation 2 failed its watchdog during the soak: the app sent WATCHDOG=trigger", report.Reason);
        Assert.Equal(["start 2", "retire 2"], rig.Set.Calls);
    }

    [Fact]
    public async Task A_requested_rollback_during_the_soak_rolls_back_and_says_who_asked()
    {
        using var rig = new RelayRig();
        rig.Handover.Moves = Moved;
        var rollback = new TaskCompletionSource<string>();
        rig.When(RelayPhase.Soak, _ => rollback.SetResult("dotnet aeterna rollback"));
        var report = await rig.RunAsync(soak: TimeSpan.FromSeconds(30), rollback: rollback.Task);

        Assert.Equal(RelayOutcome.RolledBack, report.Outcome);
        Assert.StartsWith("rollback requested (dotnet aeterna rollback) during the soak; ", report.Reason);
        Assert.Equal(["2 -> 1"], rig.Handover.RolledBack);
        Assert.Same(rig.Old, rig.Set.Active);
    }

    [Fact]
    public async Task The_supervisor_stopping_before_anything_started_refuses_and_during_the_ready_wait_discards_the_new_generation()
    {
        using (var rig = new RelayRig())
        {
            rig.When(RelayPhase.Preflight, _ => rig.Stop());
            rig.Preflight.Hold = new TaskCompletionSource().Task;
            var report = await rig.RunAsync();
            Assert.Equal(RelayOutcome.Refused, report.Outcome);
            Assert.Equal("the supervisor is stopping", report.Reason);
            Assert.Equal("cancelled: the supervisor is stopping", report.Phases[^1].Detail);
            Assert.Empty(rig.Set.Calls);
        }
        using (var rig = new RelayRig())
        {
            rig.Readiness.Result = null; // waits until cancelled
            rig.When(RelayPhase.Ready, _ => rig.Stop());
            var report = await rig.RunAsync();
            Assert.Equal(RelayOutcome.RolledBack, report.Outcome);
            Assert.Equal("the supervisor is stopping", report.Reason);
            Assert.Equal(["start 2", "discard 2"], rig.Set.Calls); // never ready: killed, not drained
        }
    }

    [Fact]
    public async Task A_commit_whose_old_generation_needs_SIGKILL_says_so()
    {
        using var rig = new RelayRig(new TestConfig { Command = ["/bin/true"], Drain = "3s" });
        rig.Set.RetireKills = true;
        var report = await rig.RunAsync();

        Assert.Equal(RelayOutcome.Committed, report.Outcome);
        Assert.Equal("generation 1 drained and killed by SIGKILL (SIGKILL after drain_timeout 3 s)", report.Phases[^1].Detail);
    }
}
