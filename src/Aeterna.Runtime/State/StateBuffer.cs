using System.Buffers;

namespace Aeterna.State;

/// <summary>
/// A growable byte buffer kept for the life of the process: exports (relays, checkpoints) write
/// into the same memory every time, so only the first one pays for fresh pages (page faults are
/// the expensive part of moving state on these machines).
/// </summary>
internal sealed class StateBuffer : IBufferWriter<byte>
{
    private byte[] _bytes = [];
    private int _written;

    public int Written => _written;

    public ReadOnlyMemory<byte> WrittenMemory => _bytes.AsMemory(0, _written);

    public ReadOnlySpan<byte> WrittenSpan => _bytes.AsSpan(0, _written);

    public void Reset() => _written = 0;

    public void Advance(int count)
    {
        if (count < 0 || _written + count > _bytes.Length) throw new ArgumentOutOfRangeException(nameof(count));
        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _bytes.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _bytes.AsSpan(_written);
    }

    private void Ensure(int sizeHint)
    {
        int needed = _written + Math.Max(sizeHint, 1);
        if (needed <= _bytes.Length) return;
        long size = Math.Max(Math.Max((long)_bytes.Length * 2, needed), 64 * 1024);
        var bigger = GC.AllocateUninitializedArray<byte>((int)Math.Min(size, Array.MaxLength));
        _bytes.AsSpan(0, _written).CopyTo(bigger);
        _bytes = bigger;
    }
}
