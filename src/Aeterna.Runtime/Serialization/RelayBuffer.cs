using System.Buffers;
using System.ComponentModel;

namespace Aeterna.Serialization;

/// <summary>
/// A growable byte buffer reused across calls on one thread: page faults on fresh memory cost more
/// than the serialization itself, so <see cref="RelaySerializer.Serialize{T}(T)"/> writes here and
/// copies out once. Generated code writes a MemoryPack member's bytes into a second one, then copies
/// them behind their length (<see cref="RelayWriter.WriteLengthPrefixed"/>): the length comes first
/// and the relay output cannot be written behind the writer's back. Each thread keeps two, one for
/// the value being serialized and one for a MemoryPack member inside it.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class RelayBuffer : IBufferWriter<byte>
{
    /// <summary>Buffers that grew past this are dropped after use rather than kept per thread.</summary>
    private const int MaxRetained = 16 * 1024 * 1024;

    [ThreadStatic] private static RelayBuffer? t_first;
    [ThreadStatic] private static RelayBuffer? t_second;

    private byte[] _buffer = new byte[64 * 1024];
    private int _written;

    private RelayBuffer() { }

    /// <summary>What was written since <see cref="Rent"/>.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    /// <summary>One of this thread's buffers, emptied (a new one when both are in use); hand it back with <see cref="Return"/>.</summary>
    public static RelayBuffer Rent()
    {
        RelayBuffer? buffer = t_first;
        if (buffer is not null) t_first = null;
        else
        {
            buffer = t_second ?? new RelayBuffer();
            t_second = null;
        }
        buffer._written = 0;
        return buffer;
    }

    /// <summary>Keeps <paramref name="buffer"/> for this thread's next <see cref="Rent"/>.</summary>
    public static void Return(RelayBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (buffer._buffer.Length > MaxRetained) return;
        if (t_first is null) t_first = buffer;
        else t_second ??= buffer;
    }

    /// <inheritdoc/>
    public void Advance(int count)
    {
        if ((uint)count > (uint)(_buffer.Length - _written)) throw new ArgumentOutOfRangeException(nameof(count));
        _written += count;
    }

    /// <inheritdoc/>
    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    /// <inheritdoc/>
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
