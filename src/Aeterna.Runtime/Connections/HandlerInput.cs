using System.IO.Pipelines;

namespace Aeterna.Connections;

/// <summary>
/// The handler's view of a round's pipe: everything but completing it, which belongs to the
/// runtime (it reads what is left after the handler returns, for the hand-over).
/// </summary>
internal sealed class HandlerInput(PipeReader inner) : PipeReader
{
    public override bool TryRead(out ReadResult result) => inner.TryRead(out result);

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) => inner.ReadAsync(cancellationToken);

    public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) { }

    public override ValueTask CompleteAsync(Exception? exception = null) => default;
}
