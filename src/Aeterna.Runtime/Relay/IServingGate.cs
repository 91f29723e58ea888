using Aeterna.Protocol;

namespace Aeterna.Relay;

/// <summary>
/// How the relay controls the app's serving: Kestrel's implementation pauses its accept loops and
/// gates requests; an app without a server has nothing to pause. Instants are CLOCK_MONOTONIC
/// nanoseconds (<see cref="MonotonicClock"/>), comparable across processes.
/// </summary>
internal interface IServingGate
{
    /// <summary>Stops taking connections: new ones wait in the kernel's accept queue (for the next generation). Returns when accepting stopped.</summary>
    long StopAccepting();

    /// <summary>
    /// Waits until requests in flight have finished; from the moment this is called, requests on
    /// connections this generation still holds are not served from its state (they are forwarded).
    /// </summary>
    Task QuiesceAsync(CancellationToken cancel);

    /// <summary>Serves again from local state and takes connections. Returns when accepting started.</summary>
    long StartAccepting();

    /// <summary>A gate of the same kind that controls nothing, for <see cref="RelayRehearsal"/>.</summary>
    IServingGate CreateScratch();
}

/// <summary>For apps without a request pipeline to gate: only the instants.</summary>
internal sealed class NoServingGate : IServingGate
{
    public long StopAccepting() => MonotonicClock.Nanoseconds;

    public Task QuiesceAsync(CancellationToken cancel) => Task.CompletedTask;

    public long StartAccepting() => MonotonicClock.Nanoseconds;

    public IServingGate CreateScratch() => this;
}
