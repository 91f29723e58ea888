using Microsoft.AspNetCore.Http;

namespace Aeterna.Kestrel;

/// <summary>
/// The first middleware of the pipeline. Counts requests in flight, and decides what a request on
/// a connection this generation still holds gets:
/// <list type="bullet">
/// <item>serving: the app;</item>
/// <item>draining (lame duck, after SIGTERM): the app, with <c>Connection: close</c> on HTTP/1.x so
/// the client leaves between requests rather than having an idle connection closed under it;</item>
/// <item>frozen (its state was handed to the next generation): forwarded to the next generation,
/// which accepts from the same listener, with <c>Connection: close</c>.</item>
/// </list>
/// </summary>
internal sealed class RequestGate(FrozenRequestForwarder forwarder)
{
    private const int Serving = 0, Draining = 1, Frozen = 2;

    private int _mode;
    private int _inFlight;
    private TaskCompletionSource? _idle;

    public bool IsFrozen => Volatile.Read(ref _mode) == Frozen;

    public int InFlight => Volatile.Read(ref _inFlight);

    public FrozenRequestForwarder Forwarder => forwarder;

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        Interlocked.Increment(ref _inFlight);
        int mode = Volatile.Read(ref _mode);
        if (mode == Frozen)
        {
            Exit();
            await forwarder.ForwardAsync(context).ConfigureAwait(false);
            return;
        }
        try
        {
            if (mode == Draining && context.Request.Protocol.StartsWith("HTTP/1", StringComparison.Ordinal))
                context.Response.Headers.Connection = "close";
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Lame duck: responses tell HTTP/1.x clients to close (no effect while frozen).</summary>
    public void BeginDraining() => Interlocked.CompareExchange(ref _mode, Draining, Serving);

    /// <summary>
    /// Frozen from now on: new requests are forwarded. Completes when the requests that were
    /// already in the app have finished, after which nothing here touches the app's state.
    /// </summary>
    public async Task FreezeAsync(CancellationToken cancel)
    {
        Interlocked.Exchange(ref _mode, Frozen);
        while (true)
        {
            var idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Interlocked.Exchange(ref _idle, idle);
            // Interlocked on both sides: a request either saw Frozen, or is counted here.
            if (Interlocked.CompareExchange(ref _inFlight, 0, 0) == 0) return;
            await idle.Task.WaitAsync(cancel).ConfigureAwait(false);
        }
    }

    /// <summary>Serve from local state again (commit of an import, or resume after a failed relay).</summary>
    public void Serve() => Interlocked.Exchange(ref _mode, Serving);

    private void Exit()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0) Volatile.Read(ref _idle)?.TrySetResult();
    }
}
