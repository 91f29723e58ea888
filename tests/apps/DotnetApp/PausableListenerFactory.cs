using System.Net;
using Microsoft.AspNetCore.Connections;

namespace DotnetApp;

/// <summary>
/// Wraps Kestrel's socket transport so that accepting can stop without closing anything.
/// </summary>
/// <remarks>
/// Kestrel's own shutdown stops accepting and, at the same moment, closes every connection that is
/// idle, including one it accepted a microsecond ago whose first request is still on its way: under
/// keep-alive load that client sees its connection closed under a request. Here accepting stops
/// first (a cancelled accept takes nothing from the shared queue; returning null ends Kestrel's
/// accept loop quietly), open connections are drained with "Connection: close", and only then
/// does the host stop.
/// </remarks>
internal sealed class PausableListenerFactory
{
    private readonly CancellationTokenSource _pause = new();

    public bool Paused => _pause.IsCancellationRequested;

    public void Pause() => _pause.Cancel();

    public IConnectionListenerFactory Wrap(IConnectionListenerFactory inner) => new Factory(inner, this);

    private sealed class Factory(IConnectionListenerFactory inner, PausableListenerFactory owner) : IConnectionListenerFactory
    {
        public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
            new Listener(await inner.BindAsync(endpoint, cancellationToken), owner._pause.Token);
    }

    private sealed class Listener(IConnectionListener inner, CancellationToken paused) : IConnectionListener
    {
        public EndPoint EndPoint => inner.EndPoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, paused);
            try { return await inner.AcceptAsync(either.Token); }
            catch (OperationCanceledException) when (paused.IsCancellationRequested) { return null; }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default) => inner.UnbindAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
