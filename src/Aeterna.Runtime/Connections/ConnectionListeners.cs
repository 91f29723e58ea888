using System.Net.Sockets;
using Aeterna.Kestrel;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Aeterna.Connections;

/// <summary>
/// Accepts on the listener of each handed-connection endpoint behind the same
/// <see cref="AcceptGate"/> as Kestrel: closed until the state is imported, closed from FREEZE
/// to COMMIT or RESUME, closed for the drain; new connections wait in the shared listener's
/// queue meanwhile. On stop the endpoints end the connections still served here.
/// </summary>
internal sealed class ConnectionListeners(IEnumerable<ConnectionEndpoint> endpoints, HandedConnections connections, AcceptGate gate, ILogger<ConnectionListeners> logger) : IHostedService
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _loops = [];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var endpoint in endpoints.DistinctBy(e => e.Name))
            _loops.Add(AcceptAsync(endpoint.Name, RelayListeners.Get(endpoint.Name)));
        return Task.CompletedTask;
    }

    private async Task AcceptAsync(string name, Socket listener)
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            var (opened, closing) = gate.Current();
            try
            {
                if (!opened.IsCompleted)
                {
                    await opened.WaitAsync(stopping).ConfigureAwait(false);
                    continue;
                }
                using var either = CancellationTokenSource.CreateLinkedTokenSource(stopping, closing);
                // A cancelled accept takes no connection from the queue.
                var socket = await listener.AcceptAsync(either.Token).ConfigureAwait(false);
                connections.Accepted(name, socket);
            }
            catch (OperationCanceledException) { } // the gate closed, or we stop: the loop decides
            catch (SocketException e)
            {
                logger.LogWarning("aeterna: accepting on listener '{Name}' failed: {Error}", name, e.Message);
                await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        await Task.WhenAll(_loops).ConfigureAwait(false);
        await connections.StopAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
    }
}
