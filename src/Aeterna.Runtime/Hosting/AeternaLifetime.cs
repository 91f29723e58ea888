using System.Runtime.InteropServices;
using Aeterna.Kestrel;
using Aeterna.Kestrel.LongLived;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Aeterna.Hosting;

/// <summary>
/// Replaces the host's ConsoleLifetime, which stops the app the moment SIGTERM arrives. Here
/// SIGTERM, SIGINT or SIGQUIT start a lame-duck drain: stop accepting (new connections stay in
/// the shared queue for the next generation), answer requests on open connections with
/// <c>Connection: close</c> (or keep forwarding them, when frozen), and stop the host once every
/// connection has closed or the drain timeout is near. Long-lived connections (WebSockets,
/// streams) keep the lame duck alive for them alone until they end; shortly before the deadline
/// they are ended properly (<see cref="LongLivedConnections.EndAllAsync"/>), not cut by the
/// supervisor's SIGKILL. A second SIGINT stops at once.
/// </summary>
internal sealed class AeternaLifetime(IHostApplicationLifetime lifetime, AcceptGate accepts, RequestGate requests, ConnectionCounter connections, LongLivedConnections longLived,
    AeternaContext context, ILogger<AeternaLifetime> logger) : IHostLifetime, IDisposable
{
    private readonly List<PosixSignalRegistration> _signals = [];
    private int _draining;

    public Task WaitForStartAsync(CancellationToken cancellationToken)
    {
        foreach (var signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT })
            _signals.Add(PosixSignalRegistration.Create(signal, OnSignal));
        return Task.CompletedTask;
    }

    private void OnSignal(PosixSignalContext signal)
    {
        signal.Cancel = true;
        if (Interlocked.Exchange(ref _draining, 1) == 1)
        {
            if (signal.Signal == PosixSignal.SIGINT) lifetime.StopApplication();
            return;
        }
        _ = DrainAsync(signal.Signal);
    }

    private async Task DrainAsync(PosixSignal signal)
    {
        // Stop before the supervisor's SIGKILL: leave a tenth of the budget (at least 200 ms) for
        // Kestrel's own shutdown, and before that a fifth (200 ms to 1 s) for the endings of
        // long-lived connections: the client has to read a WebSocket's close frame and answer it
        // before the grace's abort, whose reset would discard the frame unread.
        var budget = context.DrainTimeout;
        var margin = TimeSpan.FromMilliseconds(Math.Max(200, budget.TotalMilliseconds / 10));
        var drain = budget - margin;
        var ending = TimeSpan.FromMilliseconds(Math.Clamp(budget.TotalMilliseconds / 5, 200, 1000));
        accepts.Close();
        requests.BeginDraining();
        // Logged once draining is in force, so that whoever reads the line can rely on it.
        logger.LogInformation("aeterna: {Signal}: draining ({Open} connection(s) open, {LongLived} long-lived, at most {Seconds:0.#} s){Hint}", signal, connections.Open, longLived.Count,
            Math.Max(0, drain.TotalSeconds), signal == PosixSignal.SIGINT ? "; Ctrl-C again to stop now" : "");
        if (context.Session is null) SdNotify.Send("STOPPING=1");
        var untilEnding = drain - ending;
        using var deadline = new CancellationTokenSource(untilEnding > TimeSpan.Zero ? untilEnding : TimeSpan.Zero);
        try
        {
            await connections.WhenNoneAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            if (longLived.Count > 0)
            {
                logger.LogInformation("aeterna: drain timeout near: ending {Count} long-lived connection(s) (WebSockets: close 1012, streams: at an event boundary)", longLived.Count);
                var ended = await longLived.EndAllAsync(ending).ConfigureAwait(false);
                logger.LogInformation("aeterna: long-lived connections ended: {Ending}", ended);
            }
            logger.LogInformation("aeterna: drain timeout: closing {Open} idle connection(s)", connections.Open);
        }
        lifetime.StopApplication();
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        foreach (var s in _signals) s.Dispose();
    }
}
