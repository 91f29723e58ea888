using Aeterna.Tool.Processes;
using Aeterna.Tool.Supervision;

namespace Aeterna.Tool.Tests.Supervision;

/// <summary>A generation's life: it changes state only through its own transitions, and an exit is final.</summary>
public sealed class GenerationTests
{
    [Fact]
    public void A_generation_goes_from_starting_to_ready_to_active_and_freezes_and_resumes()
    {
        using var generations = new TestGenerations();
        var g = generations.Start();
        Assert.Equal(GenerationState.Starting, g.State);
        g.Freeze(); // only an active generation hands its state over
        Assert.Equal(GenerationState.Starting, g.State);
        g.MarkReady();
        Assert.Equal(GenerationState.Ready, g.State);
        g.Activate();
        Assert.Equal(GenerationState.Active, g.State);
        g.Freeze();
        Assert.Equal(GenerationState.Frozen, g.State);
        g.Activate(); // a frozen generation accepts again only by resuming
        Assert.Equal(GenerationState.Frozen, g.State);
        g.Resume();
        Assert.Equal(GenerationState.Active, g.State);
    }

    [Fact]
    public void Activating_a_starting_generation_makes_it_ready_first()
    {
        using var generations = new TestGenerations();
        var g = generations.Start();
        g.Activate();
        Assert.Equal(GenerationState.Active, g.State);
    }

    [Fact]
    public async Task An_exited_generation_stays_exited_whatever_is_asked_of_it()
    {
        using var generations = new TestGenerations();
        var g = generations.Start();
        g.Activate();
        generations.Exit(g, new ExitStatus(1, 0));
        await g.Exited;
        await WaitFor(() => g.State == GenerationState.Exited);
        g.Resume();
        g.Activate();
        g.MarkReady();
        Assert.Equal(GenerationState.Exited, g.State);
        var (status, killed) = await g.StopAsync(TimeSpan.FromSeconds(1));
        Assert.Equal((new ExitStatus(1, 0), false), (status, killed));
        Assert.Equal(GenerationState.Exited, g.State);
    }

    [Fact]
    public async Task Stopping_drains_a_frozen_generation_until_it_exits()
    {
        using var generations = new TestGenerations();
        var g = generations.Start();
        g.Activate();
        g.Freeze();
        var stopping = g.StopAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(GenerationState.Draining, g.State);
        generations.Exit(g, new ExitStatus(0, 0));
        Assert.Equal((new ExitStatus(0, 0), false), await stopping.WaitAsync(TimeSpan.FromSeconds(5)));
        await WaitFor(() => g.State == GenerationState.Exited);
    }

    [Fact]
    public async Task Sd_notify_messages_on_its_socket_reach_the_generation()
    {
        using var generations = new TestGenerations();
        var g = generations.Start();
        TestGenerations.Notify(g, "STATUS=warming up\nREADY=1");
        await g.NotifiedReady.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("warming up", g.StatusText);
        Assert.True(g.HasNotified);
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "not within 5 s");
            await Task.Delay(1);
        }
    }
}
