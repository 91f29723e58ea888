using System.IO.Pipelines;

namespace Aeterna.Kestrel.LongLived;

/// <summary>
/// The response's <see cref="PipeWriter"/> as the app sees it: the server's, with every write and
/// flush reported to <see cref="StreamingResponseBody"/>. Once the response is over, memory comes
/// from a scratch buffer and flushes answer that the reader is done.
/// </summary>
internal sealed class StreamingResponseWriter(PipeWriter inner, StreamingResponseBody body) : PipeWriter
{
    private Memory<byte> _memory;
    private bool _holding;
    private bool _scratch;
    private byte[] _scratchBuffer = [];

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (!_holding)
        {
            if (!body.Enter(writes: true))
            {
                _scratch = true;
                if (_scratchBuffer.Length < Math.Max(sizeHint, 4096)) _scratchBuffer = new byte[Math.Max(sizeHint, 4096)];
                return _scratchBuffer;
            }
            _holding = true;
        }
        _scratch = false;
        return _memory = inner.GetMemory(sizeHint);
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void Advance(int bytes)
    {
        if (_scratch || !_holding) return;
        inner.Advance(bytes);
        _holding = false;
        if (bytes == 0) body.LeaveUnwritten();
        // An advance is never a boundary (the bytes are not flushed yet), so it never ends the response itself.
        else body.Leave(_memory.Span[..bytes], wrote: true, flushed: false);
        _memory = default;
    }

    public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (!body.Enter(writes: false)) return new FlushResult(isCanceled: false, isCompleted: true);
        FlushResult result;
        bool end = false;
        try
        {
            result = await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            end = body.Leave([], wrote: false, flushed: true);
        }
        if (!end) return result;
        await body.CompleteEndingAsync().ConfigureAwait(false);
        return new FlushResult(isCanceled: false, isCompleted: true);
    }

    public override async ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        if (!body.Enter(writes: true)) return new FlushResult(isCanceled: false, isCompleted: true);
        FlushResult result;
        bool end = false;
        try
        {
            result = await inner.WriteAsync(source, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            end = body.Leave(source.Span, wrote: true, flushed: true);
        }
        if (!end) return result;
        await body.CompleteEndingAsync().ConfigureAwait(false);
        return new FlushResult(isCanceled: false, isCompleted: true);
    }

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;

    public override void Complete(Exception? exception = null)
    {
        if (body.CompletedByApp()) inner.Complete(exception);
    }

    public override ValueTask CompleteAsync(Exception? exception = null) =>
        body.CompletedByApp() ? inner.CompleteAsync(exception) : ValueTask.CompletedTask;
}
