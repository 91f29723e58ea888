using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace Aeterna.Connections;

/// <summary>
/// The handler's view of a round's pipe: everything but completing it, which belongs to the
/// runtime (it reads what is left after the handler returns, for the hand-over).
/// </summary>
/// <remarks>
/// The pause reaches a read as a cancelled result (<see cref="ReadResult.IsCanceled"/>, through
/// <see cref="PipeReader.CancelPendingRead"/>) rather than as an <see cref="OperationCanceledException"/>
/// from the pause token: at a relay every connection pauses at once, and an exception thrown and
/// rethrown up each handler's awaits costs more than the rest of the pause. A handler that reads
/// again after that result gets the exception, as before.
/// </remarks>
internal sealed class HandlerInput(PipeReader inner, CancellationToken pause) : PipeReader
{
    private int _pauseSeen;

    /// <summary>The round's pause: the next (or pending) read returns cancelled.</summary>
    public void Pause() => inner.CancelPendingRead();

    public override bool TryRead(out ReadResult result)
    {
        ThrowIfPauseSeen();
        return Seen(inner.TryRead(out result), result);
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfPauseSeen();
        // The pause token is not registered with the pipe: Pause cancels the read instead.
        var read = inner.ReadAsync(cancellationToken == pause ? CancellationToken.None : cancellationToken);
        if (read.IsCompletedSuccessfully)
        {
            var result = read.Result;
            Seen(true, result);
            return new ValueTask<ReadResult>(result);
        }
        return AwaitAsync(read);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> AwaitAsync(ValueTask<ReadResult> read)
    {
        var result = await read.ConfigureAwait(false);
        Seen(true, result);
        return result;
    }

    private bool Seen(bool read, ReadResult result)
    {
        if (read && result.IsCanceled && pause.IsCancellationRequested) _pauseSeen = 1;
        return read;
    }

    private void ThrowIfPauseSeen()
    {
        if (_pauseSeen == 1) throw new OperationCanceledException(pause);
    }

    public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) { }

    public override ValueTask CompleteAsync(Exception? exception = null) => default;
}
