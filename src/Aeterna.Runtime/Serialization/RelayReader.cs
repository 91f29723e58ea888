using System.Buffers;
using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;
using Aeterna.State;

namespace Aeterna.Serialization;

/// <summary>
/// Reads relay state written by <see cref="RelayWriter"/>. Every read checks bounds: truncated or
/// corrupt data throws <see cref="RelayFormatException"/>, never reads past the end and never
/// allocates more than the data could hold (counts are checked against the bytes left first).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Advanced)]
public ref struct RelayReader
{
    private static readonly UTF8Encoding s_strictUtf8 = new(false, throwOnInvalidBytes: true);

    private readonly ReadOnlySpan<byte> _data;
    private readonly IRegionSource? _regions;
    private int _position;
    private int _depth;

    /// <summary>A reader over <paramref name="data"/>.</summary>
    public RelayReader(ReadOnlySpan<byte> data) : this(data, null) { }

    internal RelayReader(ReadOnlySpan<byte> data, IRegionSource? regions)
    {
        _data = data;
        _regions = regions;
        _position = 0;
        _depth = 0;
    }

    /// <summary>Bytes not read yet.</summary>
    public readonly int Remaining => _data.Length - _position;

    private readonly ref byte Current => ref Unsafe.Add(ref MemoryMarshal.GetReference(_data), _position);

    /// <summary>A fixed-size little-endian value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal T ReadUnmanaged<T>() where T : unmanaged
    {
        if (Remaining < Unsafe.SizeOf<T>()) ThrowTruncated(typeof(T).Name);
        T value = Unsafe.ReadUnaligned<T>(ref Current);
        _position += Unsafe.SizeOf<T>();
        return value;
    }

    /// <summary>Fills <paramref name="destination"/> with as many values from one block.</summary>
    internal void ReadUnmanagedSpan<T>(scoped Span<T> destination) where T : unmanaged =>
        ReadRaw(destination.Length * Unsafe.SizeOf<T>()).CopyTo(MemoryMarshal.AsBytes(destination));

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

    /// <summary>A varint length that must fit in the remaining data.</summary>
    public int ReadLength(string what)
    {
        ulong length = ReadVarUInt();
        if (length > (ulong)Remaining) throw Truncated($"{what} ({length} bytes announced, {Remaining} left)");
        return (int)length;
    }

    /// <summary>
    /// An int32 count of items of at least <paramref name="minItemSize"/> bytes each, or -1 for null;
    /// refused when the items could not fit in what is left (so nothing is allocated for them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int ReadCount(int minItemSize, string what)
    {
        int count = ReadUnmanaged<int>();
        if (count < 0 ? count != -1 : (long)count * minItemSize > Remaining) ThrowBadCount(count, minItemSize, what);
        return count;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private readonly void ThrowBadCount(int count, int minItemSize, string what)
    {
        if (count < 0) throw new RelayFormatException($"{what} has a negative length ({count}) at byte {_position - 4}");
        throw Truncated($"{what} ({count} items of at least {minItemSize} bytes announced, {Remaining} bytes left)");
    }

    /// <summary><paramref name="count"/> raw bytes.</summary>
    public ReadOnlySpan<byte> ReadRaw(int count)
    {
        if ((uint)count > (uint)Remaining) ThrowTruncated($"{count} bytes");
        var bytes = MemoryMarshal.CreateReadOnlySpan(ref Current, count);
        _position += count;
        return bytes;
    }

    /// <summary>A length-prefixed byte string written by <see cref="RelayWriter.WriteBytes"/>.</summary>
    public ReadOnlySpan<byte> ReadBytes()
    {
        int length = ReadCount(1, "a byte string");
        return length < 0 ? default : ReadRaw(length);
    }

    /// <summary>
    /// A string written by <see cref="RelayWriter.WriteString"/>: int32 header, then UTF-8 (header ≥ 0:
    /// that many bytes) or UTF-16 (header ≤ -2: -2 - header chars); -1 is null.
    /// </summary>
    public string? ReadString()
    {
        int header = ReadUnmanaged<int>();
        if (header > 0)
        {
            if (header > Remaining) ThrowBadCount(header, 1, "a string");
            var bytes = MemoryMarshal.CreateReadOnlySpan(ref Current, header);
            _position += header;
            return header <= MaxStackChars ? DecodeOnStack(bytes) : DecodeLong(bytes);
        }
        if (header == 0) return "";
        if (header == -1) return null;
        return ReadUtf16(header);
    }

    /// <summary>A UTF-16 string value: its chars are copied as they are (any char sequence is a .NET string).</summary>
    private string ReadUtf16(int header)
    {
        long chars = -2L - header;
        if (chars * 2 > Remaining) ThrowTruncated($"a string ({chars} UTF-16 chars announced, {Remaining} bytes left)");
        var bytes = MemoryMarshal.CreateReadOnlySpan(ref Current, (int)chars * 2);
        _position += bytes.Length;
        return new string(MemoryMarshal.Cast<byte, char>(bytes));
    }

    /// <summary>Skips a string value (either encoding).</summary>
    private void SkipString()
    {
        int header = ReadUnmanaged<int>();
        if (header >= 0) ReadRaw(header);
        else if (header < -1) ReadRaw((int)Math.Min((-2L - header) * 2, int.MaxValue));
    }

    /// <summary>Strings up to this many UTF-8 bytes are decoded through a buffer on the stack (a string never has more chars than UTF-8 bytes).</summary>
    private const int MaxStackChars = 1024;

    /// <summary>
    /// One pass over the bytes into a stack buffer, then one copy into the string: Encoding.GetString
    /// makes two passes over the bytes (it counts the chars first), and the count pass cost a tenth of
    /// a chat history's read.
    /// </summary>
    [SkipLocalsInit]
    private readonly string DecodeOnStack(ReadOnlySpan<byte> bytes)
    {
        Span<char> chars = stackalloc char[MaxStackChars];
        if (Utf8.ToUtf16(bytes, chars, out _, out int written, replaceInvalidSequences: false) != OperationStatus.Done)
            ThrowInvalidUtf8();
        return new string(chars[..written]);
    }

    private readonly string DecodeLong(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return s_strictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new RelayFormatException($"a string is not valid UTF-8 (before byte {_position})", e);
        }
    }

    [DoesNotReturn]
    private readonly void ThrowInvalidUtf8() => throw new RelayFormatException($"a string is not valid UTF-8 (before byte {_position})");

    internal bool ReadBool() => ReadUnmanaged<byte>() != 0;

    internal decimal ReadDecimal()
    {
        Span<int> bits = stackalloc int[4];
        ReadUnmanagedSpan(bits);
        try
        {
            return new decimal(bits);
        }
        catch (ArgumentException e)
        {
            throw new RelayFormatException($"a decimal is invalid (before byte {_position})", e);
        }
    }

    internal DateTime ReadDateTime()
    {
        ulong data = ReadUnmanaged<ulong>();
        long ticks = (long)(data & 0x3FFF_FFFF_FFFF_FFFF);
        var kind = (DateTimeKind)(data >> 62);
        if (ticks > DateTime.MaxValue.Ticks || kind > DateTimeKind.Local)
            throw new RelayFormatException($"a DateTime is out of range (before byte {_position})");
        return new DateTime(ticks, kind);
    }

    internal DateTimeOffset ReadDateTimeOffset()
    {
        long ticks = ReadUnmanaged<long>();
        short minutes = ReadUnmanaged<short>();
        // DateTimeOffset's own limits, checked here rather than caught (a try block per value cost time).
        long utcTicks = ticks - minutes * TimeSpan.TicksPerMinute;
        if (minutes is < -14 * 60 or > 14 * 60 || (ulong)ticks > (ulong)DateTime.MaxValue.Ticks || (ulong)utcTicks > (ulong)DateTime.MaxValue.Ticks)
            throw new RelayFormatException($"a DateTimeOffset is out of range (before byte {_position})");
        return new DateTimeOffset(ticks, new TimeSpan(minutes * TimeSpan.TicksPerMinute));
    }

    /// <summary>
    /// Starts an object: its member count, or -1 for null. A non-null object must be ended with
    /// <see cref="EndObject"/>.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public int ReadObjectHeader()
    {
        ulong header = ReadVarUInt();
        if (header == 0) return -1;
        // A member takes at least 6 bytes: a 4-byte key, a descriptor and a value.
        if (header - 1 > (ulong)Remaining / 6) throw Truncated($"an object ({header - 1} members announced, {Remaining} bytes left)");
        if (++_depth > RelayWriter.MaxDepth) throw new RelayFormatException($"objects are nested more than {RelayWriter.MaxDepth} deep");
        return (int)(header - 1);
    }

    /// <summary>Ends the object started by <see cref="ReadObjectHeader"/>.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public void EndObject() => _depth--;

    /// <summary>
    /// Reads past <paramref name="header"/> (a member's key id and wire type) when the data continues
    /// with exactly those bytes: the generated reader's path for members that come in this version's
    /// order with this version's types, which skips parsing and comparing the descriptor.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadMemberHeader(ReadOnlySpan<byte> header)
    {
        if (Remaining < header.Length) return false;
        if (header.Length == 5)
        {
            // Key and a one-byte wire type, the common case: two compares.
            if (Unsafe.ReadUnaligned<uint>(ref Current) != Unsafe.ReadUnaligned<uint>(ref MemoryMarshal.GetReference(header))
                || Unsafe.Add(ref Current, 4) != header[4]) return false;
        }
        else if (!MemoryMarshal.CreateReadOnlySpan(ref Current, header.Length).SequenceEqual(header))
        {
            return false;
        }
        _position += header.Length;
        return true;
    }

    /// <summary>A member's key: the FNV-1a hash of its key string (docs/wire-format.md).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public uint ReadMemberKey() => ReadUnmanaged<uint>();

    /// <summary>A member's wire type descriptor, validated; a slice of the data.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ReadOnlySpan<byte> ReadWireType()
    {
        int length = RelayWireType.Length(_data[_position..]);
        if (length < 0)
            throw new RelayFormatException($"invalid wire type at byte {_position} (code 0x{(_position < _data.Length ? _data[_position] : 0):x2})");
        return ReadRaw(length);
    }

    /// <summary>
    /// Throws a <see cref="RelayFormatException"/> naming the member and both types unless a value
    /// written as <paramref name="source"/> can be read as <paramref name="target"/>.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public readonly void EnsureReadable(ReadOnlySpan<byte> source, ReadOnlySpan<byte> target, string typeName, string memberName, string memberType)
    {
        if (RelayWireType.CanRead(source, target)) return;
        throw new RelayFormatException(
            $"cannot read member '{memberName}' of {typeName}: the other version wrote it as {RelayWireType.ToText(source)}, " +
            $"this version declares it as {memberType} ({RelayWireType.ToText(target)}). " +
            "Fix: keep the member's type, or give the changed member a new key (RelayState(\"newKey\")) and list the old key in [RelayRemovedKeys].");
    }

    /// <summary>Skips a value of wire type <paramref name="descriptor"/>: a member this version does not know.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public void Skip(ReadOnlySpan<byte> descriptor)
    {
        if (++_depth > RelayWriter.MaxDepth) throw new RelayFormatException($"values are nested more than {RelayWriter.MaxDepth} deep");
        byte code = descriptor[0];
        int size = RelayWireType.FixedSize(code);
        if (size > 0)
            ReadRaw(size);
        else
        {
            switch (code)
            {
                case RelayWireType.String:
                    SkipString();
                    break;
                case RelayWireType.Nullable:
                    if (ReadBool()) Skip(descriptor[1..]);
                    break;
                case RelayWireType.Array:
                {
                    var element = descriptor[1..];
                    int count = ReadCount(RelayWireType.MinSize(element), "an array");
                    int elementSize = RelayWireType.FixedSize(element[0]);
                    if (elementSize > 0)
                        ReadRaw(Math.Max(count, 0) * elementSize);
                    else
                        for (int i = 0; i < count; i++) Skip(element);
                    break;
                }
                case RelayWireType.Map:
                {
                    int keyLength = RelayWireType.Length(descriptor[1..]);
                    var key = descriptor.Slice(1, keyLength);
                    var value = descriptor[(1 + keyLength)..];
                    int count = ReadCount(RelayWireType.MinSize(key) + RelayWireType.MinSize(value), "a map");
                    for (int i = 0; i < count; i++)
                    {
                        Skip(key);
                        Skip(value);
                    }
                    break;
                }
                case RelayWireType.Object:
                {
                    int members = ReadObjectHeader();
                    for (int i = 0; i < members; i++)
                    {
                        ReadMemberKey();
                        Skip(ReadWireType());
                    }
                    if (members >= 0) EndObject();
                    break;
                }
                case RelayWireType.Memory:
                    SkipMemory();
                    break;
                case RelayWireType.MemoryPack:
                    ReadRaw(ReadLength("a MemoryPack value"));
                    break;
                default:
                    throw new RelayFormatException($"cannot skip unknown wire type 0x{code:x2}");
            }
        }
        _depth--;
    }

    private void SkipMemory()
    {
        switch (ReadVarUInt())
        {
            case 0: return;
            case 1: ReadRaw(ReadLength("inline memory")); return;
            case 2:
                // The region still arrives with the state; taking it closes it instead of leaking the fd.
                ulong index = ReadVarUInt();
                if (_regions is not null && index <= int.MaxValue) _regions.Take((int)index).Dispose();
                return;
            case var tag: throw new RelayFormatException($"unknown memory encoding {tag}");
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

    /// <summary>An integer written as <paramref name="code"/>, widened (RelayWireType.IsWidening decides which are allowed).</summary>
    internal long ReadInteger(byte code) => code switch
    {
        RelayWireType.Int8 => ReadUnmanaged<sbyte>(),
        RelayWireType.UInt8 => ReadUnmanaged<byte>(),
        RelayWireType.Int16 => ReadUnmanaged<short>(),
        RelayWireType.UInt16 or RelayWireType.Char => ReadUnmanaged<ushort>(),
        RelayWireType.Int32 => ReadUnmanaged<int>(),
        RelayWireType.UInt32 => ReadUnmanaged<uint>(),
        RelayWireType.Int64 => ReadUnmanaged<long>(),
        _ => throw new RelayFormatException($"cannot read {RelayWireType.ToText([code])} as an integer"),
    };

    /// <summary>A number written as <paramref name="code"/>, as a double (exact for the widenings allowed).</summary>
    internal double ReadFloat(byte code) => code switch
    {
        RelayWireType.Float32 => ReadUnmanaged<float>(),
        RelayWireType.Float64 => ReadUnmanaged<double>(),
        _ => ReadInteger(code),
    };

    private readonly RelayFormatException Truncated(string what) =>
        new($"the data ends in the middle of {what} (at byte {_position} of {_data.Length})");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private readonly void ThrowTruncated(string what) => throw Truncated(what);
}
