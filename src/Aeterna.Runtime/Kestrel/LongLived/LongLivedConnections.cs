namespace Aeterna.Kestrel.LongLived;

/// <summary>
/// The long-lived connections open on this generation (WebSockets, other upgraded connections,
/// streaming responses): they left the requests in flight when they became long-lived, so no
/// freeze, checkpoint pause or drain waits for them; the lame duck ends them here, properly,
/// shortly before its drain deadline.
/// </summary>
internal sealed class LongLivedConnections
{
    private readonly Lock _lock = new();
    private readonly HashSet<LongLivedExchange> _open = [];
    private bool _ending;
    private TimeSpan _patience;

    /// <summary>How many are open now.</summary>
    public int Count
    {
        get { lock (_lock) return _open.Count; }
    }

    /// <summary>Called by an exchange the moment it becomes long-lived; once the generation is ending, it is ended at once.</summary>
    public void Add(LongLivedExchange exchange)
    {
        bool ending;
        TimeSpan patience;
        lock (_lock)
        {
            _open.Add(exchange);
            ending = _ending;
            patience = _patience;
        }
        if (ending) _ = exchange.EndAsync(patience);
    }

    /// <summary>Called when its request has finished.</summary>
    public void Remove(LongLivedExchange exchange)
    {
        lock (_lock) _open.Remove(exchange);
    }

    /// <summary>
    /// Ends every long-lived connection, and any that becomes long-lived from now on: a WebSocket
    /// gets a close frame 1012 (Service Restart) between messages, a stream ends after a complete
    /// write (after a complete event, for text/event-stream) with its terminating chunk, another
    /// upgraded connection is closed. Waits up to <paramref name="grace"/> for their requests to
    /// finish (a WebSocket's close handshake, a streaming handler seeing RequestAborted) and aborts
    /// those still open then. A WebSocket's close waits up to half the grace for its app to have
    /// answered every message it read (so no message is taken in and left unanswered), the other
    /// half is for the client's close answer.
    /// </summary>
    public async Task<LongLivedEnding> EndAllAsync(TimeSpan grace)
    {
        LongLivedExchange[] open;
        var patience = grace / 2;
        lock (_lock)
        {
            _ending = true;
            _patience = patience;
            open = [.. _open];
        }
        foreach (var exchange in open) _ = exchange.EndAsync(patience);
        var finished = Task.WhenAll(open.Select(e => e.Finished));
        await Task.WhenAny(finished, Task.Delay(grace)).ConfigureAwait(false);
        int aborted = 0;
        foreach (var exchange in open)
        {
            if (exchange.Finished.IsCompleted) continue;
            exchange.Abort();
            aborted++;
        }
        return new LongLivedEnding(
            open.Count(e => e.Kind == LongLivedKind.WebSocket), open.Count(e => e.Kind == LongLivedKind.Stream),
            open.Count(e => e.Kind == LongLivedKind.Upgraded), aborted);
    }
}

/// <summary>What a lame duck's ending of its long-lived connections did: how many of each kind, and how many did not finish within the grace and were aborted.</summary>
internal readonly record struct LongLivedEnding(int WebSockets, int Streams, int Upgraded, int Aborted)
{
    public override string ToString() =>
        $"{WebSockets} WebSocket(s) closed with 1012, {Streams} stream(s) ended at a boundary, {Upgraded} other upgraded connection(s) closed; {Aborted} aborted after the grace";
}

/// <summary>What made an exchange long-lived.</summary>
internal enum LongLivedKind
{
    /// <summary>Not long-lived (yet).</summary>
    None,

    /// <summary>An accepted WebSocket (HTTP/1.1 upgrade or HTTP/2 extended CONNECT).</summary>
    WebSocket,

    /// <summary>Another upgraded connection (a 101 to a protocol other than WebSocket).</summary>
    Upgraded,

    /// <summary>A response that was flushed and is still being written (Server-Sent Events, any streamed body).</summary>
    Stream,
}
