using System.Buffers;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Aeterna.State;

namespace Aeterna.Serialization;

/// <summary>
/// Writes relay state: the primitives generated serializers (and hand-written
/// <see cref="IRelayState"/> implementations) call. docs/wire-format.md describes the bytes.
/// </summary>
/// <remarks>
/// Writes go straight into the span the output lends (<see cref="IBufferWriter{T}.GetSpan"/>);
/// the output is advanced only when that span is full and at <see cref="Flush"/>. Fixed-size
/// values are little-endian, so arrays of numbers are copied as one block.
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Advanced)]
public ref struct RelayWriter
{
    /// <summary>Objects nested deeper than this are refused: a deeper graph is almost surely a cycle.</summary>
    internal const int MaxDepth = 200;

    /// <summary>The smallest span asked of the output; fewer, larger spans mean fewer calls into it.</summary>
    private const int MinChunk = 16 * 1024;

    /// <summary>Strings up to this many chars are encoded straight into the output span.</summary>
    private const int MaxDirectStringChars = 1 << 20;

    private readonly IBufferWriter<byte> _output;
    private readonly IRegionSink? _regions;
    private readonly bool _utf16Strings;
    private Span<byte> _span;
    private int _buffered;
    private int _depth;

    /// <summary>A writer into <paramref name="output"/>; <see cref="RelayMemory{T}"/> values are copied inline.</summary>
    public RelayWriter(IBufferWriter<byte> output) : this(output, null) { }

    internal RelayWriter(IBufferWriter<byte> output, IRegionSink? regions, RelayStringEncoding strings = RelayStringEncoding.Utf8)
    {
        _output = output;
        _regions = regions;
        _utf16Strings = strings == RelayStringEncoding.Utf16;
        _span = default;
        _buffered = 0;
        _depth = 0;
    }

    /// <summary>Commits everything written to the output. Call once at the end.</summary>
    public void Flush()
    {
        if (_buffered > 0) _output.Advance(_buffered);
        _buffered = 0;
        _span = default;
    }

    /// <summary>Space for at least <paramref name="size"/> more bytes at <c>_buffered</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Ensure(int size)
    {
        if (_span.Length - _buffered < size) Grow(size);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow(int size)
    {
        Flush();
        _span = _output.GetSpan(Math.Max(size, MinChunk));
        if (_span.Length < size) throw new InvalidOperationException($"the output gave a {_span.Length}-byte span when {size} bytes were asked for");
    }

    private ref byte Current => ref Unsafe.Add(ref MemoryMarshal.GetReference(_span), _buffered);

    /// <summary>A fixed-size value, little-endian (its in-memory layout on the little-endian machines Aeterna runs on).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteUnmanaged<T>(T value) where T : unmanaged
    {
        Ensure(Unsafe.SizeOf<T>());
        Unsafe.WriteUnaligned(ref Current, value);
        _buffered += Unsafe.SizeOf<T>();
    }

    /// <summary>Values of a fixed-size type as one block.</summary>
    internal void WriteUnmanagedSpan<T>(scoped ReadOnlySpan<T> values) where T : unmanaged =>
        WriteRaw(MemoryMarshal.AsBytes(values));

    /// <summary>An unsigned integer in 1 to 10 bytes (LEB128).</summary>
    public void WriteVarUInt(ulong value)
    {
        Ensure(10);
        ref byte start = ref Current;
        int n = 0;
        while (value >= 0x80)
        {
            Unsafe.Add(ref start, n++) = (byte)(value | 0x80);
            value >>= 7;
        }
        Unsafe.Add(ref start, n++) = (byte)value;
        _buffered += n;
    }

    /// <summary>Raw bytes, with no length.</summary>
    public void WriteRaw(scoped ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length <= _span.Length - _buffered)
        {
            bytes.CopyTo(_span[_buffered..]);
            _buffered += bytes.Length;
            return;
        }
        while (!bytes.IsEmpty)
        {
            if (_span.Length == _buffered) Grow(Math.Min(bytes.Length, 1 << 20));
            int n = Math.Min(bytes.Length, _span.Length - _buffered);
            bytes[..n].CopyTo(_span[_buffered..]);
            _buffered += n;
            bytes = bytes[n..];
        }
    }

    /// <summary>
    /// Bytes another serializer wrote (a MemoryPack value, say), with their varint length in front so
    /// that a reader can find their end without understanding them (<see cref="RelayReader.ReadLength"/>).
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public void WriteLengthPrefixed(scoped ReadOnlySpan<byte> bytes)
    {
        WriteVarUInt((ulong)bytes.Length);
        WriteRaw(bytes);
    }

    /// <summary>A length-prefixed byte string (int32 length, then the bytes).</summary>
    public void WriteBytes(scoped ReadOnlySpan<byte> bytes)
    {
        WriteUnmanaged(bytes.Length);
        WriteRaw(bytes);
    }

    /// <summary>
    /// A string: int32 byte length (-1 for null), then its UTF-8 bytes; or, when the writer was made
    /// for UTF-16 strings, -2 - its length, then its UTF-16 chars (docs/wire-format.md).
    /// </summary>
    public void WriteString(string? value)
    {
        if (value is null)
        {
            WriteUnmanaged(-1);
            return;
        }
        if (_utf16Strings && value.Length > 0)
        {
            WriteUnmanaged(-2 - value.Length);
            WriteRaw(MemoryMarshal.AsBytes(value.AsSpan()));
            return;
        }
        if (value.Length <= MaxDirectStringChars)
        {
            // Encode in place after a 4-byte slot, then fill the slot: one pass over the chars.
            Ensure(4 + value.Length * 3);
            int n = Encoding.UTF8.GetBytes(value, _span[(_buffered + 4)..]);
            Unsafe.WriteUnaligned(ref Current, n);
            _buffered += 4 + n;
            return;
        }
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        WriteBytes(bytes);
    }

    internal void WriteBool(bool value) => WriteUnmanaged(value ? (byte)1 : (byte)0);

    internal void WriteDecimal(decimal value)
    {
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(value, bits);
        WriteUnmanagedSpan<int>(bits);
    }

    /// <summary>Ticks in the low 62 bits, <see cref="DateTimeKind"/> in the top two.</summary>
    internal void WriteDateTime(DateTime value) => WriteUnmanaged((ulong)value.Ticks | ((ulong)value.Kind << 62));

    /// <summary>Local ticks (8 bytes), then the offset in minutes (2 bytes).</summary>
    internal void WriteDateTimeOffset(DateTimeOffset value)
    {
        WriteUnmanaged(value.Ticks);
        WriteUnmanaged((short)value.TotalOffsetMinutes);
    }

    /// <summary>Starts an object of <paramref name="memberCount"/> members; end it with <see cref="EndObject"/>.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public void WriteObjectHeader(int memberCount)
    {
        if (++_depth > MaxDepth)
            throw new InvalidOperationException($"relay state nests objects more than {MaxDepth} deep; is there a cycle (an object that refers back to itself)?");
        WriteVarUInt((ulong)memberCount + 1);
    }

    /// <summary>A null object.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public void WriteNullObject() => WriteUnmanaged((byte)0);

    /// <summary>Ends the object started by <see cref="WriteObjectHeader"/>.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public void EndObject() => _depth--;

    /// <summary>
    /// A <see cref="RelayMemory{T}"/>: during a relay a reference to the region, whose fd travels
    /// beside the bytes (nothing is copied); otherwise its contents inline.
    /// </summary>
    public void WriteMemory<T>(RelayMemory<T>? memory) where T : unmanaged
    {
        if (memory is null)
        {
            WriteVarUInt(0);
            return;
        }
        if (_regions is not null)
        {
            WriteVarUInt(2);
            WriteVarUInt((ulong)_regions.Add(memory.Region));
            return;
        }
        WriteVarUInt(1);
        WriteVarUInt((ulong)memory.ByteLength);
        const int chunk = 1 << 20;
        for (long offset = 0; offset < memory.ByteLength; offset += chunk)
            WriteRaw(memory.Region.Bytes(offset, (int)Math.Min(chunk, memory.ByteLength - offset)));
    }
}
