using System.Net;
using Microsoft.AspNetCore.Connections;

namespace Aeterna.Kestrel;

/// <summary>
/// Kestrel's socket transport behind an <see cref="AcceptGate"/>: accepting can stop and start
/// again without closing the listener or any connection, which Kestrel's own API cannot do
/// (its shutdown stops accepting and closes idle connections in one step, and a stopped server
/// cannot resume). Also counts open connections, for the drain.
/// </summary>
internal sealed class GatedListenerFactory(IConnectionListenerFactory inner, AcceptGate gate, ConnectionCounter connections) : IConnectionListenerFactory
{
    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        new GatedListener(await inner.BindAsync(endpoint, cancellationToken).ConfigureAwait(false), gate, connections);

    private sealed class GatedListener(IConnectionListener inner, AcceptGate gate, ConnectionCounter connections) : IConnectionListener
    {
        private readonly CancellationTokenSource _unbound = new();

        public EndPoint EndPoint => inner.EndPoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            while (true)
            {
                var (opened, closing) = gate.Current();
                try
                {
                    if (!opened.IsCompleted)
                    {
                        await opened.WaitAsync(_unbound.Token).WaitAsync(cancellationToken).ConfigureAwait(false);
                        continue;
                    }
                    using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, closing, _unbound.Token);
                    var connection = await inner.AcceptAsync(either.Token).ConfigureAwait(false);
                    if (connection is not null) connections.Track(connection);
                    return connection;
                }
                catch (OperationCanceledException) when (_unbound.IsCancellationRequested)
                {
                    return null; // Kestrel is unbinding: end its accept loop
                }
                catch (OperationCanceledException) when (closing.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    // The gate closed while we waited for a connection: wait for it to open again.
                }
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            // Cancel our pending accept first, so that closing this process's copy of the listener
            // never happens with an operation pending on it.
            _unbound.Cancel();
            return inner.UnbindAsync(cancellationToken);
        }

        public ValueTask DisposeAsync()
        {
            _unbound.Cancel();
            return inner.DisposeAsync();
        }
    }
}

/// <summary>Connections open on this generation's listeners.</summary>
internal sealed class ConnectionCounter
{
    private int _open;
    private TaskCompletionSource _none = Done();

    public int Open => Volatile.Read(ref _open);

    public void Track(ConnectionContext connection)
    {
        Interlocked.Increment(ref _open);
        connection.ConnectionClosed.Register(static state =>
        {
            var self = (ConnectionCounter)state!;
            if (Interlocked.Decrement(ref self._open) == 0) Volatile.Read(ref self._none).TrySetResult();
        }, this);
    }

    /// <summary>Completes when no connection is open (checked again after every close).</summary>
    public async Task WhenNoneAsync(CancellationToken cancel)
    {
        while (Open > 0)
        {
            var none = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Interlocked.Exchange(ref _none, none);
            if (Open == 0) return;
            await none.Task.WaitAsync(cancel).ConfigureAwait(false);
        }
    }

    private static TaskCompletionSource Done()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.SetResult();
        return done;
    }
}
