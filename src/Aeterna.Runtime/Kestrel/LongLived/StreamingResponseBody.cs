using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Aeterna.Kestrel.LongLived;

/// <summary>
/// The response body of one request, watched: it is a stream (long-lived) from the first write
/// after something was flushed to the client, Server-Sent Events or any body written on after a
/// flush. Such a stream can be ended at a boundary: after a complete write or flush (for
/// <c>text/event-stream</c>, after a complete event, a blank line), with the server's normal end
/// of the response (the terminating chunk). From then on the app's writes go nowhere and its
/// flushes say the reader is done, as when a client has left.
/// </summary>
internal sealed class StreamingResponseBody(IHttpResponseBodyFeature inner, LongLivedExchange exchange, HttpResponse response) : IHttpResponseBodyFeature
{
    private readonly Lock _lock = new();
    private StreamingResponseWriter? _writer;
    private StreamingResponseStream? _stream;
    private EventStreamTail _tail;
    private bool _flushed;
    private bool _unflushed;
    private bool _appInside;
    private bool _eventStream;
    private bool _ended;
    private TaskCompletionSource? _ending;

    public Stream Stream => _stream ??= new StreamingResponseStream(inner.Stream, this);

    public PipeWriter Writer => _writer ??= new StreamingResponseWriter(inner.Writer, this);

    /// <summary>The response is over (ended here, or completed by the app): writes are dropped.</summary>
    internal bool IsOver
    {
        get { lock (_lock) return _ended; }
    }

    public void DisableBuffering() => inner.DisableBuffering();

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (!Enter(writes: false)) return;
        bool end = false;
        try
        {
            await inner.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            end = Leave([], wrote: false, flushed: true);
        }
        if (end) await CompleteEndingAsync().ConfigureAwait(false);
    }

    public async Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        if (!Enter(writes: true)) return;
        bool end = false;
        try
        {
            await inner.SendFileAsync(path, offset, count, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // A file's bytes are not seen here; a file in the middle of an event stream is not an event boundary.
            end = Leave([], wrote: true, flushed: true, unknownBytes: true);
        }
        if (end) await CompleteEndingAsync().ConfigureAwait(false);
    }

    public Task CompleteAsync()
    {
        lock (_lock)
        {
            if (_ended) return Task.CompletedTask;
            _ended = true;
            _ending?.TrySetResult();
        }
        return inner.CompleteAsync();
    }

    /// <summary>
    /// The app begins a write (<paramref name="writes"/>: new bytes) or a flush. False: the
    /// response is over, drop it. A write after a flush makes the response a stream.
    /// </summary>
    internal bool Enter(bool writes)
    {
        bool becameStream;
        lock (_lock)
        {
            if (_ended) return false;
            _appInside = true;
            becameStream = writes && _flushed;
            if (becameStream) _eventStream = response.ContentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) == true;
        }
        if (becameStream) exchange.BecameLongLived(LongLivedKind.Stream);
        return true;
    }

    /// <summary>
    /// The app's write or flush has returned. True: an ending was waiting for a boundary and this
    /// is one; the caller ends the response (<see cref="CompleteEndingAsync"/>) before returning to the app.
    /// </summary>
    internal bool Leave(ReadOnlySpan<byte> written, bool wrote, bool flushed, bool unknownBytes = false)
    {
        lock (_lock)
        {
            _appInside = false;
            if (unknownBytes) _tail.Unknown();
            else _tail.Append(written);
            if (wrote) _unflushed = true;
            if (flushed)
            {
                _flushed = true;
                _unflushed = false;
            }
            if (_ending is null || _ended || !AtBoundary) return false;
            _ended = true;
            return true;
        }
    }

    /// <summary>The app let go of memory it got from the writer without writing into it (Advance(0)).</summary>
    internal void LeaveUnwritten()
    {
        lock (_lock) _appInside = false;
    }

    /// <summary>The app completed the body itself (PipeWriter.Complete): nothing is left to end.</summary>
    internal bool CompletedByApp()
    {
        lock (_lock)
        {
            if (_ended) return false;
            _ended = true;
            _ending?.TrySetResult();
            return true;
        }
    }

    /// <summary>Ends the stream at its next boundary (now, if the app is not writing and it stands at one); completes when it has ended.</summary>
    internal Task EndAsync()
    {
        TaskCompletionSource ending;
        bool now;
        lock (_lock)
        {
            if (_ending is not null) return _ending.Task;
            ending = _ending = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_ended)
            {
                ending.TrySetResult();
                return ending.Task;
            }
            now = !_appInside && AtBoundary;
            if (now) _ended = true;
        }
        if (now) _ = CompleteEndingAsync();
        return ending.Task;
    }

    /// <summary>Ends the response the server's way (chunked: the terminating chunk; HTTP/2: END_STREAM).</summary>
    internal async Task CompleteEndingAsync()
    {
        try
        {
            await inner.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException)
        {
            // E.g. fewer bytes than its Content-Length: it cannot end well; the grace's abort ends it.
        }
        finally
        {
            TaskCompletionSource? ending;
            lock (_lock) ending = _ending;
            ending?.TrySetResult();
        }
    }

    private bool AtBoundary => !_unflushed && (!_eventStream || _tail.AtEventBoundary);
}
