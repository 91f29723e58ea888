using Aeterna.Kestrel.LongLived;
using Microsoft.AspNetCore.Http;

namespace Aeterna.Kestrel;

/// <summary>
/// The first middleware of the pipeline. Counts requests in flight and decides who serves a
/// request on a connection this generation holds:
/// <list type="bullet">
/// <item>serving: the app;</item>
/// <item>frozen (its state was handed to the next generation): the next generation, through
/// <see cref="FrozenRequestForwarder"/>. The client keeps its connection to this generation
/// during the soak, so if the next generation fails (and this one resumes) the client never
/// notices: a request the next generation could not answer is served here after the resume;</item>
/// <item>draining (lame duck, after SIGTERM), frozen or not: responses carry
/// <c>Connection: close</c> on HTTP/1.x, so clients leave between requests instead of having an
/// idle connection closed under them.</item>
/// </list>
/// A request that becomes long-lived (a WebSocket or another upgrade, a response flushed and
/// still written, see <see cref="LongLivedExchange"/>) stops counting as in flight at that moment:
/// a freeze or a checkpoint pause never waits for one, and so no request waits behind one. A
/// WebSocket handshake that reaches a frozen or draining generation is refused (503, the client
/// reconnects to the generation that serves).
/// </summary>
internal sealed class RequestGate
{
    /// <summary>How long a request the next generation could not answer waits for this one to resume.</summary>
    private static readonly TimeSpan ResumeWait = TimeSpan.FromSeconds(30);

    private int _frozen;
    private int _draining;
    private int _inFlight;
    private long _served;
    private long _failed;
    private TaskCompletionSource? _paused;
    private TaskCompletionSource? _idle;
    private TaskCompletionSource _serving = Completed();
    private readonly FrozenRequestForwarder _forwarder;
    private readonly LongLivedConnections _longLived;
    private readonly Action _leaveInFlight;

    public RequestGate(FrozenRequestForwarder forwarder, LongLivedConnections longLived)
    {
        _forwarder = forwarder;
        _longLived = longLived;
        _leaveInFlight = Exit;
    }

    public bool IsFrozen => Volatile.Read(ref _frozen) == 1;

    public bool IsDraining => Volatile.Read(ref _draining) == 1;

    public FrozenRequestForwarder Forwarder => _forwarder;

    /// <summary>Requests in the app now that count for a freeze or pause (long-lived ones do not).</summary>
    internal int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Requests this generation served from its own state, and how many of them failed (5xx or an exception).</summary>
    public (long Served, long Failed) Counts => (Interlocked.Read(ref _served), Interlocked.Read(ref _failed));

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var exchange = new LongLivedExchange(context, _longLived);
        try
        {
            await RouteAsync(context, next, exchange).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (exchange.Ended)
        {
            // The lame duck ended this long-lived request and then cancelled its RequestAborted:
            // the client already has its proper ending.
        }
        finally
        {
            exchange.Finish();
        }
    }

    private async Task RouteAsync(HttpContext context, RequestDelegate next, LongLivedExchange exchange)
    {
        Interlocked.Increment(ref _inFlight);
        while (Volatile.Read(ref _paused) is { } paused)
        {
            // A checkpoint is being taken: wait (it takes about as long as serializing the state).
            Exit();
            await paused.Task.ConfigureAwait(false);
            Interlocked.Increment(ref _inFlight);
        }
        if (Volatile.Read(ref _frozen) == 1 || (IsDraining && exchange.IsWebSocketRequest))
        {
            Exit();
            if (exchange.IsWebSocketRequest) RefuseWebSocket(context);
            else await ForwardAsync(context, next, exchange).ConfigureAwait(false);
            return;
        }
        exchange.HoldInFlight(_leaveInFlight);
        bool failed = true;
        try
        {
            if (IsDraining && context.Request.Protocol.StartsWith("HTTP/1", StringComparison.Ordinal))
                context.Response.Headers.Connection = "close";
            await next(context).ConfigureAwait(false);
            failed = context.Response.StatusCode >= 500;
        }
        catch (OperationCanceledException) when (exchange.Ended)
        {
            failed = false;
            throw;
        }
        finally
        {
            Interlocked.Increment(ref _served);
            if (failed) Interlocked.Increment(ref _failed);
            exchange.LeaveInFlight();
        }
    }

    /// <summary>
    /// A WebSocket cannot be forwarded, and one opened on a generation that no longer serves would
    /// only be ended again: 503 and, on HTTP/1.x, a closed connection, so the client's reconnect
    /// reaches the generation that accepts.
    /// </summary>
    private static void RefuseWebSocket(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = "0";
        if (context.Request.Protocol.StartsWith("HTTP/1", StringComparison.Ordinal)) context.Response.Headers.Connection = "close";
    }

    private async Task ForwardAsync(HttpContext context, RequestDelegate next, LongLivedExchange exchange)
    {
        if (await _forwarder.ForwardAsync(context, closeConnection: IsDraining).ConfigureAwait(false)) return;
        // The next generation could not take the request (it failed): if the relay rolls back,
        // this generation resumes and serves it from its own state.
        var serving = Volatile.Read(ref _serving).Task;
        if (!IsDraining && await Task.WhenAny(serving, Task.Delay(ResumeWait, context.RequestAborted)).ConfigureAwait(false) == serving && !IsFrozen)
        {
            _forwarder.Rewind(context);
            await RouteAsync(context, next, exchange).ConfigureAwait(false);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status502BadGateway;
        context.Response.Headers.Connection = "close";
    }

    /// <summary>Lame duck: from now on responses tell HTTP/1.x clients to close.</summary>
    public void BeginDraining() => Interlocked.Exchange(ref _draining, 1);

    /// <summary>
    /// Frozen from now on: new requests are forwarded. Completes when the requests that were
    /// already in the app have finished, after which nothing here touches the app's state.
    /// </summary>
    public async Task FreezeAsync(CancellationToken cancel)
    {
        Interlocked.Exchange(ref _serving, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        Interlocked.Exchange(ref _frozen, 1);
        await WaitIdleAsync(cancel).ConfigureAwait(false);
    }

    /// <summary>Completes when no request is in the app (after a freeze or pause no new one enters).</summary>
    private async Task WaitIdleAsync(CancellationToken cancel)
    {
        while (true)
        {
            var idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Interlocked.Exchange(ref _idle, idle);
            // Interlocked on both sides: a request either saw the freeze or pause, or is counted here.
            if (Interlocked.CompareExchange(ref _inFlight, 0, 0) == 0) return;
            await idle.Task.WaitAsync(cancel).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Holds new requests (they wait, they are not forwarded) and completes when the requests in
    /// flight have finished: the state is still for a moment, long enough to take a checkpoint.
    /// <see cref="Unpause"/> lets the held requests in.
    /// </summary>
    public async Task PauseAsync(CancellationToken cancel)
    {
        Interlocked.Exchange(ref _paused, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        await WaitIdleAsync(cancel).ConfigureAwait(false);
    }

    public void Unpause() => Interlocked.Exchange(ref _paused, null)?.TrySetResult();

    /// <summary>Serve from local state again (commit of an import, or resume after a failed relay).</summary>
    public void Serve()
    {
        Interlocked.Exchange(ref _frozen, 0);
        Volatile.Read(ref _serving).TrySetResult();
    }

    private void Exit()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0) Volatile.Read(ref _idle)?.TrySetResult();
    }

    private static TaskCompletionSource Completed()
    {
        var done = new TaskCompletionSource();
        done.SetResult();
        return done;
    }
}
