using System.Buffers;
using System.ComponentModel;
using System.Text;
using Aeterna.State;

namespace Aeterna.Serialization;

/// <summary>
/// Writes relay state: the primitives generated serializers (and hand-written
/// <see cref="IRelayState"/> implementations) call. docs/wire-format.md describes the bytes.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Advanced)]
public ref struct RelayWriter
{
    private readonly IBufferWriter<byte> _output;
    private readonly IRegionSink? _regions;
    private Span<byte> _span;
    private int _buffered;

    /// <summary>A writer into <paramref name="output"/>; <see cref="RelayMemory{T}"/> values are copied inline.</summary>
    public RelayWriter(IBufferWriter<byte> output) : this(output, null) { }

    internal RelayWriter(IBufferWriter<byte> output, IRegionSink? regions)
    {
        _output = output;
        _regions = regions;
        _span = default;
        _buffered = 0;
    }

    /// <summary>Commits everything written to the output. Call once at the end.</summary>
    public void Flush()
    {
        if (_buffered > 0) _output.Advance(_buffered);
        _buffered = 0;
        _span = default;
    }

    private Span<byte> Reserve(int size)
    {
        if (_span.Length - _buffered < size)
        {
            Flush();
            _span = _output.GetSpan(Math.Max(size, 256));
        }
        return _span.Slice(_buffered, size);
    }

    /// <summary>An unsigned integer in 1 to 10 bytes (LEB128).</summary>
    public void WriteVarUInt(ulong value)
    {
        var span = Reserve(10);
        int n = 0;
        while (value >= 0x80)
        {
            span[n++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[n++] = (byte)value;
        _buffered += n;
    }

    /// <summary>Raw bytes, with no length.</summary>
    public void WriteRaw(scoped ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            if (_span.Length - _buffered == 0) Reserve(Math.Min(bytes.Length, 64 * 1024));
            int n = Math.Min(bytes.Length, _span.Length - _buffered);
            bytes[..n].CopyTo(_span[_buffered..]);
            _buffered += n;
            bytes = bytes[n..];
        }
    }

    /// <summary>A length-prefixed byte string.</summary>
    public void WriteBytes(scoped ReadOnlySpan<byte> bytes)
    {
        WriteVarUInt((ulong)bytes.Length);
        WriteRaw(bytes);
    }

    /// <summary>A UTF-8 string; null is distinct from empty.</summary>
    public void WriteString(string? value)
    {
        if (value is null)
        {
            WriteVarUInt(0);
            return;
        }
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (max <= 4096)
        {
            Span<byte> scratch = stackalloc byte[max];
            int n = Encoding.UTF8.GetBytes(value, scratch);
            WriteVarUInt((ulong)n + 1);
            WriteRaw(scratch[..n]);
        }
        else
        {
            byte[] bytes = Encoding.UTF8.GetBytes(value);
            WriteVarUInt((ulong)bytes.Length + 1);
            WriteRaw(bytes);
        }
    }

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
