using System.Buffers;

namespace Aeterna.Serialization;

/// <summary>
/// A growable byte buffer reused across calls on one thread: page faults on fresh memory cost more
/// than the serialization itself, so <see cref="RelaySerializer.Serialize{T}(T)"/> writes here and
/// copies out once.
/// </summary>
internal sealed class RelayBuffer : IBufferWriter<byte>
{
    /// <summary>Buffers that grew past this are dropped after use rather than kept per thread.</summary>
    private const int MaxRetained = 16 * 1024 * 1024;

    [ThreadStatic] private static RelayBuffer? t_cached;

    private byte[] _buffer = new byte[64 * 1024];
    private int _written;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    /// <summary>This thread's buffer, emptied; hand it back with <see cref="Return"/>.</summary>
    public static RelayBuffer Rent()
    {
        var buffer = t_cached ?? new RelayBuffer();
        t_cached = null;
        buffer._written = 0;
        return buffer;
    }

    public static void Return(RelayBuffer buffer)
    {
        if (buffer._buffer.Length <= MaxRetained) t_cached = buffer;
    }

    public void Advance(int count)
    {
        if ((uint)count > (uint)(_buffer.Length - _written)) throw new ArgumentOutOfRangeException(nameof(count));
        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    private void Ensure(int sizeHint)
    {
        int needed = Math.Max(sizeHint, 1);
        if (_buffer.Length - _written >= needed) return;
        long size = Math.Max((long)_buffer.Length * 2, (long)_written + needed);
        var bigger = GC.AllocateUninitializedArray<byte>((int)Math.Min(size, Array.MaxLength));
        _buffer.AsSpan(0, _written).CopyTo(bigger);
        _buffer = bigger;
    }
}
