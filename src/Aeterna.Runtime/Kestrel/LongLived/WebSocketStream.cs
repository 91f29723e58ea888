namespace Aeterna.Kestrel.LongLived;

/// <summary>
/// The upgraded stream under an accepted WebSocket, as the app's WebSocket implementation sees
/// it: the server's, with the frames it writes followed (<see cref="WebSocketFrameCursor"/>), so a
/// close frame of the runtime's own can go between two messages. After that close the app's
/// writes go nowhere (a data frame after a close is not allowed, and the app's own close answer
/// is the one already sent); reads go on, so the app reads the client's close and finishes the
/// handshake as it would for a client that closes.
/// </summary>
internal sealed class WebSocketStream(Stream inner) : Stream
{
    /// <summary>RFC 6455 §7.4.1, IANA registry: the service is restarting; a client may reconnect.</summary>
    public const ushort ServiceRestart = 1012;

    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _writes = new(1, 1);
    private WebSocketFrameCursor _frames;
    private byte[]? _pendingClose;
    private TaskCompletionSource? _closeSent;
    private bool _closed;

    public override bool CanRead => inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>
    /// Sends a close frame with <paramref name="code"/> at the next message boundary (at once, when
    /// the app is not in the middle of one); completes when it is sent.
    /// </summary>
    public async Task CloseAsync(ushort code, string reason)
    {
        var reasonBytes = System.Text.Encoding.UTF8.GetBytes(reason);
        var frame = new byte[4 + reasonBytes.Length];
        frame[0] = 0x88; // FIN, close
        frame[1] = (byte)(2 + reasonBytes.Length);
        frame[2] = (byte)(code >> 8);
        frame[3] = (byte)code;
        reasonBytes.CopyTo(frame, 4);
        TaskCompletionSource sent;
        lock (_lock)
        {
            if (_closeSent is not null) { sent = _closeSent; }
            else
            {
                sent = _closeSent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _pendingClose = frame;
            }
        }
        // Between the app's writes (it may be idle): send it now if the stream stands between messages.
        await _writes.WaitAsync().ConfigureAwait(false);
        try
        {
            await SendPendingCloseAsync().ConfigureAwait(false);
        }
        finally
        {
            _writes.Release();
        }
        await sent.Task.ConfigureAwait(false);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _writes.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_lock)
                if (_closed) return;
            try
            {
                await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                lock (_lock) _frames.Advance(buffer.Span);
            }
            await SendPendingCloseAsync().ConfigureAwait(false);
        }
        finally
        {
            _writes.Release();
        }
    }

    /// <summary>Sends the close frame if one is waiting and the stream stands between messages; the caller holds the write lock.</summary>
    private async Task SendPendingCloseAsync()
    {
        byte[] frame;
        lock (_lock)
        {
            if (_closed || _pendingClose is null || !_frames.AtMessageBoundary) return;
            frame = _pendingClose;
            _closed = true;
        }
        try
        {
            await inner.WriteAsync(frame).ConfigureAwait(false);
            await inner.FlushAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The connection is gone already: there is nobody left to tell.
        }
        finally
        {
            _closeSent!.TrySetResult();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
            if (_closed) return;
        await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => inner.Read(buffer);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
