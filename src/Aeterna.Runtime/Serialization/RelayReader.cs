using System.ComponentModel;
using System.Text;
using Aeterna.State;

namespace Aeterna.Serialization;

/// <summary>
/// Reads relay state written by <see cref="RelayWriter"/>. Every read checks bounds: truncated or
/// corrupt data throws <see cref="RelayFormatException"/>, never reads past the end and never
/// allocates more than the data could hold.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Advanced)]
public ref struct RelayReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly IRegionSource? _regions;
    private int _position;

    /// <summary>A reader over <paramref name="data"/>.</summary>
    public RelayReader(ReadOnlySpan<byte> data) : this(data, null) { }

    internal RelayReader(ReadOnlySpan<byte> data, IRegionSource? regions)
    {
        _data = data;
        _regions = regions;
        _position = 0;
    }

    /// <summary>Bytes not read yet.</summary>
    public readonly int Remaining => _data.Length - _position;

    /// <summary>An unsigned LEB128 integer.</summary>
    public ulong ReadVarUInt()
    {
        ulong value = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (_position >= _data.Length) throw Truncated("an integer");
            byte b = _data[_position++];
            if (shift == 63 && b > 1) throw new RelayFormatException("an integer is longer than 64 bits");
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new RelayFormatException("an integer is longer than 10 bytes");
    }

    /// <summary>A length that must fit in the remaining data.</summary>
    public int ReadLength(string what)
    {
        ulong length = ReadVarUInt();
        if (length > (ulong)Remaining) throw Truncated($"{what} ({length} bytes announced, {Remaining} left)");
        return (int)length;
    }

    /// <summary><paramref name="count"/> raw bytes.</summary>
    public ReadOnlySpan<byte> ReadRaw(int count)
    {
        if (count < 0 || count > Remaining) throw Truncated($"{count} bytes");
        var bytes = _data.Slice(_position, count);
        _position += count;
        return bytes;
    }

    /// <summary>A length-prefixed byte string.</summary>
    public ReadOnlySpan<byte> ReadBytes() => ReadRaw(ReadLength("a byte string"));

    /// <summary>A UTF-8 string written by <see cref="RelayWriter.WriteString"/>.</summary>
    public string? ReadString()
    {
        ulong tag = ReadVarUInt();
        if (tag == 0) return null;
        if (tag - 1 > (ulong)Remaining) throw Truncated($"a string ({tag - 1} bytes announced, {Remaining} left)");
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(ReadRaw((int)(tag - 1)));
        }
        catch (DecoderFallbackException e)
        {
            throw new RelayFormatException("a string is not valid UTF-8", e);
        }
    }

    /// <summary>A <see cref="RelayMemory{T}"/> written by <see cref="RelayWriter.WriteMemory{T}"/>.</summary>
    public RelayMemory<T>? ReadMemory<T>() where T : unmanaged
    {
        switch (ReadVarUInt())
        {
            case 0: return null;
            case 1:
                ulong length = ReadVarUInt();
                if (length > (ulong)Remaining) throw Truncated($"inline memory ({length} bytes announced, {Remaining} left)");
                return RelayMemory<T>.FromBytes(ReadRaw((int)length));
            case 2:
                if (_regions is null) throw new RelayFormatException("the data refers to a memory region, but none came with it (region references are only valid during a relay)");
                ulong index = ReadVarUInt();
                if (index > int.MaxValue) throw new RelayFormatException($"memory region index {index} is out of range");
                return RelayMemory<T>.FromRegion(_regions.Take((int)index));
            case var tag:
                throw new RelayFormatException($"unknown memory encoding {tag}");
        }
    }

    private readonly RelayFormatException Truncated(string what) =>
        new($"the data ends in the middle of {what} (at byte {_position} of {_data.Length})");
}
