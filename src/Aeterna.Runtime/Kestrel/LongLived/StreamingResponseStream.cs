namespace Aeterna.Kestrel.LongLived;

/// <summary>
/// The response's body <see cref="Stream"/> as the app sees it: the server's (every write is
/// flushed), with every write reported to <see cref="StreamingResponseBody"/>; once the response
/// is over, writes go nowhere.
/// </summary>
internal sealed class StreamingResponseStream(Stream inner, StreamingResponseBody body) : Stream
{
    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (!body.Enter(writes: true)) return;
        bool end = false;
        try
        {
            inner.Write(buffer);
        }
        finally
        {
            end = body.Leave(buffer, wrote: true, flushed: true);
        }
        if (end) body.CompleteEndingAsync().GetAwaiter().GetResult(); // the app chose synchronous I/O
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!body.Enter(writes: true)) return;
        bool end = false;
        try
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            end = body.Leave(buffer.Span, wrote: true, flushed: true);
        }
        if (end) await body.CompleteEndingAsync().ConfigureAwait(false);
    }

    public override void Flush()
    {
        if (!body.Enter(writes: false)) return;
        bool end = false;
        try
        {
            inner.Flush();
        }
        finally
        {
            end = body.Leave([], wrote: false, flushed: true);
        }
        if (end) body.CompleteEndingAsync().GetAwaiter().GetResult();
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (!body.Enter(writes: false)) return;
        bool end = false;
        try
        {
            await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            end = body.Leave([], wrote: false, flushed: true);
        }
        if (end) await body.CompleteEndingAsync().ConfigureAwait(false);
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
