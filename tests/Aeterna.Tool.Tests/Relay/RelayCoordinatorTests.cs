using Aeterna.Tool.Relay;

namespace Aeterna.Tool.Tests.Relay;

/// <summary>
/// One relay or restart at a time, the relay in progress as status shows it, and rollback
/// requests: <see cref="RelayCoordinator"/> in front of the state machine of <see cref="RelayRig"/>.
/// </summary>
public sealed class RelayCoordinatorTests
{
    [Fact]
    public async Task A_second_relay_while_one_runs_is_refused_at_once_with_the_running_one_s_phase()
    {
        using var rig = new RelayRig();
        var release = new TaskCompletionSource();
        rig.Preflight.Hold = release.Task;
        var first = rig.RelayAsync("SIGHUP");
        await WaitUntil(() => rig.Coordinator.Running?.Phase == RelayPhase.Preflight);

        var second = await rig.RelayAsync("control socket").WaitAsync(TimeSpan.FromSeconds(1));
        Assert.Equal(RelayOutcome.Refused, second.Outcome);
        Assert.Equal(2, second.Id);
        Assert.Equal("relay 1 (from SIGHUP) is running, in phase 'preflight'; one relay at a time: wait for it to finish (dotnet aeterna status shows it)", second.Reason);
        Assert.Empty(second.Phases);

        var running = rig.Coordinator.Running!;
        Assert.Equal((1, "SIGHUP", RelayPhase.Preflight), (running.Id, running.Trigger, running.Phase));
        Assert.Equal("relay 1 in phase 'preflight'", running.ToString());
        Assert.NotNull(running.InPhase);

        release.SetResult();
        Assert.Equal(RelayOutcome.Committed, (await first).Outcome);
        Assert.Null(rig.Coordinator.Running);
        Assert.Equal([2, 1], rig.Finished.Select(r => r.Id)); // refusals are recorded too
    }

    [Fact]
    public async Task Rollback_is_refused_without_a_relay_and_before_the_soak_and_rolls_back_a_soaking_one()
    {
        using var rig = new RelayRig();
        var (done, refusal) = rig.Coordinator.RequestRollback("test");
        Assert.Null(done);
        Assert.StartsWith("no relay is running: rollback applies to a relay in its soak", refusal);

        var release = new TaskCompletionSource();
        rig.Preflight.Hold = release.Task;
        rig.Handover.Moves = new HandoverReport("pipe", 40, 0, 0, 1, 0, 0, 0);
        var relay = rig.RelayAsync(soak: TimeSpan.FromSeconds(30));
        await WaitUntil(() => rig.Coordinator.Running?.Phase == RelayPhase.Preflight);
        (done, refusal) = rig.Coordinator.RequestRollback("test");
        Assert.Null(done);
        Assert.StartsWith("relay 1 is in phase 'preflight', not soaking: only a soaking relay can be rolled back", refusal);

        release.SetResult();
        await WaitUntil(() => rig.Coordinator.Running?.Phase == RelayPhase.Soak);
        (done, refusal) = rig.Coordinator.RequestRollback("dotnet aeterna rollback");
        Assert.Null(refusal);
        var report = await done!.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Same(await relay, report);
        Assert.Equal(RelayOutcome.RolledBack, report.Outcome);
        Assert.StartsWith("rollback requested (dotnet aeterna rollback) during the soak", report.Reason);
        Assert.Same(rig.Old, rig.Set.Active);
        Assert.Contains("relay 1: rollback requested by dotnet aeterna rollback", rig.LogText);
    }

    [Fact]
    public async Task A_relay_waits_a_moment_for_a_restart_in_progress_instead_of_being_refused()
    {
        using var rig = new RelayRig();
        var restart = await rig.Coordinator.BeginRestartAsync(CancellationToken.None);
        var relay = rig.RelayAsync();
        await Task.Delay(50);
        Assert.False(relay.IsCompleted);
        restart.Dispose();
        Assert.Equal(RelayOutcome.Committed, (await relay.WaitAsync(TimeSpan.FromSeconds(5))).Outcome);
    }

    [Fact]
    public async Task A_restart_waits_for_the_relay_in_progress()
    {
        using var rig = new RelayRig();
        var release = new TaskCompletionSource();
        rig.Preflight.Hold = release.Task;
        var relay = rig.RelayAsync();
        await WaitUntil(() => rig.Coordinator.Running is not null);
        var restart = rig.Coordinator.BeginRestartAsync(CancellationToken.None);
        await Task.Delay(50);
        Assert.False(restart.IsCompleted);
        release.SetResult();
        await relay;
        (await restart.WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
    }

    [Fact]
    public async Task Once_the_supervisor_stops_relays_are_refused_and_one_in_progress_abandons_its_new_generation()
    {
        using var rig = new RelayRig();
        rig.Readiness.Result = null; // n+1 never gets ready
        var relay = rig.RelayAsync();
        await WaitUntil(() => rig.Coordinator.Running?.Phase == RelayPhase.Ready);
        rig.Stop();
        var hold = rig.Coordinator.HoldForStopAsync();
        var report = await relay.WaitAsync(TimeSpan.FromSeconds(5));
        await hold.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(RelayOutcome.RolledBack, report.Outcome);
        Assert.Equal(["start 2", "discard 2"], rig.Set.Calls);

        var after = await rig.RelayAsync().WaitAsync(TimeSpan.FromSeconds(1));
        Assert.Equal(RelayOutcome.Refused, after.Outcome);
        Assert.Equal("the supervisor is stopping", after.Reason);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the relay did not get there within 5 s");
            await Task.Delay(1);
        }
    }
}
