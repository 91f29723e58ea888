namespace Aeterna.Kestrel.LongLived;

/// <summary>
/// The upgraded stream under an accepted WebSocket, as the app's WebSocket implementation sees
/// it: the server's, with the frames it writes and reads followed (<see cref="WebSocketFrameCursor"/>),
/// so a close frame of the runtime's own can go between two messages, at a moment the app waits
/// for the client with every message it read answered. After that close the app's writes go
/// nowhere (a data frame after a close is not allowed, and the app's own close answer is the one
/// already sent); its reads go on without the client's late data frames (<see cref="WebSocketLateFrames"/>),
/// so it reads the client's close and finishes the handshake as it would for a client that closes.
/// </summary>
internal sealed class WebSocketStream(Stream inner) : Stream
{
    /// <summary>RFC 6455 §7.4.1, IANA registry: the service is restarting; a client may reconnect.</summary>
    public const ushort ServiceRestart = 1012;

    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _writes = new(1, 1);
    private WebSocketFrameCursor _frames;
    private WebSocketFrameCursor _readFrames;
    private readonly WebSocketLateFrames _late = new();
    private readonly List<byte> _kept = [];
    private int _keptOut;
    private bool _readWaiting;
    private bool _patienceOver;
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
    /// Sends a close frame with <paramref name="code"/> once the app stands between messages and
    /// waits for the client's next one (at once, when it does now), or, for an app that does not
    /// read, at the first message boundary of its writes after <paramref name="patience"/>;
    /// completes when it is sent.
    /// </summary>
    public async Task CloseAsync(ushort code, string reason, TimeSpan patience)
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
        // Now if the app is idle; else when its read starts waiting (ReadAsync), or once patience runs out.
        await TrySendPendingCloseAsync(force: false).ConfigureAwait(false);
        if (await Task.WhenAny(sent.Task, Task.Delay(patience)).ConfigureAwait(false) != sent.Task)
        {
            lock (_lock) _patienceOver = true;
            await TrySendPendingCloseAsync(force: true).ConfigureAwait(false);
        }
        await sent.Task.ConfigureAwait(false);
    }

    /// <summary>Sends the pending close if the app stands where it may go; takes the write lock (never waits on it when called from a read).</summary>
    private async Task TrySendPendingCloseAsync(bool force)
    {
        if (!await _writes.WaitAsync(force ? Timeout.InfiniteTimeSpan : TimeSpan.Zero).ConfigureAwait(false))
            return; // a write is under way: it sends the close when it ends, if the app may be told then
        try
        {
            await SendPendingCloseAsync().ConfigureAwait(false);
        }
        finally
        {
            _writes.Release();
        }
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
            // Every message the app read is answered only once it waits for the next one, at a
            // message boundary of the reads: then nothing it took in goes unanswered.
            bool idle = _readWaiting && _readFrames.AtMessageBoundary;
            if (!idle && !_patienceOver) return;
            frame = _pendingClose;
            _closed = true;
            _late.Start(_readFrames);
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

    /// <summary>
    /// The app's read (one at a time, as a WebSocket reads): while it waits a pending close may go
    /// out; what it returns is followed, and after the runtime's close filtered.
    /// </summary>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            lock (_lock)
            {
                if (_keptOut < _kept.Count)
                {
                    int n = Math.Min(buffer.Length, _kept.Count - _keptOut);
                    for (int i = 0; i < n; i++) buffer.Span[i] = _kept[_keptOut + i];
                    _keptOut += n;
                    return n;
                }
                _readWaiting = true;
            }
            if (_pendingClose is not null) await TrySendPendingCloseAsync(force: false).ConfigureAwait(false);
            int read;
            try
            {
                read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                lock (_lock) _readWaiting = false;
            }
            lock (_lock)
            {
                if (read == 0) return 0;
                if (!_late.Filtering)
                {
                    _readFrames.Advance(buffer.Span[..read]);
                    return read;
                }
                _kept.Clear();
                _keptOut = 0;
                _late.Filter(buffer.Span[..read], ref _readFrames, _kept);
            }
            // All of it dropped (or a header held back): read on, never 0 while the client is there.
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

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
