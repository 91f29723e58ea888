using Aeterna.Protocol;
using Aeterna.Relay;

namespace Aeterna.Kestrel;

/// <summary>The relay's control over Kestrel: its accept loops (<see cref="AcceptGate"/>) and its requests (<see cref="RequestGate"/>).</summary>
internal sealed class KestrelServingGate(AcceptGate accepts, RequestGate requests) : IServingGate
{
    public long StopAccepting()
    {
        accepts.Close();
        return MonotonicClock.Nanoseconds;
    }

    public Task QuiesceAsync(CancellationToken cancel) => requests.FreezeAsync(cancel);

    public long StartAccepting()
    {
        requests.Serve();
        accepts.Open();
        return MonotonicClock.Nanoseconds;
    }

    public IServingGate CreateScratch() => new KestrelServingGate(new AcceptGate(), new RequestGate(requests.Forwarder, new LongLived.LongLivedConnections()));
}
