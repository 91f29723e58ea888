using System.Text;

namespace Aeterna.Serialization;

/// <summary>
/// Wire types: each member's value is preceded by a descriptor of how it is encoded, a byte code
/// followed, for composite types, by the descriptors of their parts (<c>Array</c> + element,
/// <c>Map</c> + key + value, <c>Nullable</c> + value, <c>Memory</c> + element). The descriptor lets
/// a reader skip members it does not know, and read or refuse members whose type changed.
/// docs/wire-format.md is the reference; the generator holds the same table (WireCode.cs).
/// </summary>
internal static class RelayWireType
{
    public const byte Bool = 0x01;
    public const byte Int8 = 0x02;
    public const byte UInt8 = 0x03;
    public const byte Int16 = 0x04;
    public const byte UInt16 = 0x05;
    public const byte Char = 0x06;
    public const byte Int32 = 0x07;
    public const byte UInt32 = 0x08;
    public const byte Int64 = 0x09;
    public const byte UInt64 = 0x0A;
    public const byte Float32 = 0x0B;
    public const byte Float64 = 0x0C;
    public const byte Decimal = 0x0D;
    public const byte DateTime = 0x0E;
    public const byte DateTimeOffset = 0x0F;
    public const byte TimeSpan = 0x10;
    public const byte Guid = 0x11;
    public const byte String = 0x12;
    public const byte Nullable = 0x20;
    public const byte Array = 0x21;
    public const byte Map = 0x22;
    public const byte Object = 0x23;
    public const byte Memory = 0x24;
    /// <summary>A value of a MemoryPack type: varint byte length, then MemoryPack's own bytes.</summary>
    public const byte MemoryPack = 0x25;

    /// <summary>Deepest descriptor nesting accepted (<c>Array&lt;Array&lt;…&gt;&gt;</c>); real types stay far below.</summary>
    public const int MaxDescriptorDepth = 16;

    /// <summary>Size in bytes of a fixed-size scalar, or 0 for anything else.</summary>
    public static int FixedSize(byte code) => code switch
    {
        Bool or Int8 or UInt8 => 1,
        Int16 or UInt16 or Char => 2,
        Int32 or UInt32 or Float32 => 4,
        Int64 or UInt64 or Float64 or DateTime or TimeSpan => 8,
        DateTimeOffset => 10,
        Decimal or Guid => 16,
        _ => 0,
    };

    /// <summary>The fewest bytes a value of this type takes; bounds counts before allocating.</summary>
    public static int MinSize(ReadOnlySpan<byte> descriptor) => descriptor[0] switch
    {
        String or Array or Map => 4,
        Nullable or Object or Memory or MemoryPack => 1,
        var code => FixedSize(code),
    };

    /// <summary>Length of the descriptor at the start of <paramref name="data"/>, or -1 when it is not a valid descriptor.</summary>
    public static int Length(ReadOnlySpan<byte> data) => Length(data, 0);

    private static int Length(ReadOnlySpan<byte> data, int depth)
    {
        if (data.IsEmpty || depth > MaxDescriptorDepth) return -1;
        byte code = data[0];
        if (FixedSize(code) > 0 || code is String or Object or MemoryPack) return 1;
        switch (code)
        {
            case Nullable:
            case Array:
            {
                int inner = Length(data[1..], depth + 1);
                return inner < 0 ? -1 : 1 + inner;
            }
            case Memory:
                return data.Length >= 2 && FixedSize(data[1]) > 0 ? 2 : -1;
            case Map:
            {
                int key = Length(data[1..], depth + 1);
                if (key < 0) return -1;
                int value = Length(data[(1 + key)..], depth + 1);
                return value < 0 ? -1 : 1 + key + value;
            }
            default:
                return -1;
        }
    }

    /// <summary>
    /// Whether a value written as <paramref name="source"/> can be read as <paramref name="target"/>:
    /// the same type, a lossless widening (int32 → int64, float32 → float64, integers → decimal),
    /// T → Nullable&lt;T&gt;, element-wise for arrays and maps, and any object as any object (objects
    /// carry their members' keys and types); a MemoryPack value only as a MemoryPack value (MemoryPack
    /// itself then reads it or refuses). Mirrored by SchemaCompatibility in the tool.
    /// </summary>
    public static bool CanRead(ReadOnlySpan<byte> source, ReadOnlySpan<byte> target)
    {
        if (source.SequenceEqual(target)) return true;
        switch (target[0])
        {
            case Nullable:
                return CanRead(source[0] == Nullable ? source[1..] : source, target[1..]);
            case Array:
                return source[0] == Array && CanRead(source[1..], target[1..]);
            case Map:
            {
                if (source[0] != Map) return false;
                int sourceKey = Length(source[1..]), targetKey = Length(target[1..]);
                return CanRead(source.Slice(1, sourceKey), target.Slice(1, targetKey))
                    && CanRead(source[(1 + sourceKey)..], target[(1 + targetKey)..]);
            }
            case Object:
                return source[0] == Object;
            default:
                return IsWidening(source[0], target[0]);
        }
    }

    /// <summary>Scalar conversions that lose nothing.</summary>
    public static bool IsWidening(byte from, byte to) => to switch
    {
        Int16 => from is Int8 or UInt8,
        Int32 => from is Int8 or UInt8 or Int16 or UInt16 or Char,
        Int64 => from is Int8 or UInt8 or Int16 or UInt16 or Char or Int32 or UInt32,
        UInt16 => from is UInt8,
        UInt32 => from is UInt8 or UInt16 or Char,
        UInt64 => from is UInt8 or UInt16 or Char or UInt32,
        Float32 => from is Int8 or UInt8 or Int16 or UInt16,
        Float64 => from is Float32 or Int8 or UInt8 or Int16 or UInt16 or Int32 or UInt32,
        Decimal => from is Int8 or UInt8 or Int16 or UInt16 or Char or Int32 or UInt32 or Int64 or UInt64,
        _ => false,
    };

    /// <summary>The descriptor as text, as in the manifest: <c>array&lt;int32&gt;</c>, <c>map&lt;string,object&gt;</c>.</summary>
    public static string ToText(ReadOnlySpan<byte> descriptor)
    {
        var text = new StringBuilder();
        Append(text, descriptor);
        return text.ToString();
    }

    private static int Append(StringBuilder text, ReadOnlySpan<byte> descriptor)
    {
        if (descriptor.IsEmpty)
        {
            text.Append('?');
            return 0;
        }
        byte code = descriptor[0];
        switch (code)
        {
            case Nullable:
            case Array:
            case Memory:
                text.Append(code == Nullable ? "nullable<" : code == Array ? "array<" : "memory<");
                int inner = Append(text, descriptor[1..]);
                text.Append('>');
                return 1 + inner;
            case Map:
                text.Append("map<");
                int key = Append(text, descriptor[1..]);
                text.Append(',');
                int value = Append(text, descriptor[(1 + key)..]);
                text.Append('>');
                return 1 + key + value;
            default:
                text.Append(ScalarName(code));
                return 1;
        }
    }

    private static string ScalarName(byte code) => code switch
    {
        Bool => "bool",
        Int8 => "int8",
        UInt8 => "uint8",
        Int16 => "int16",
        UInt16 => "uint16",
        Char => "char",
        Int32 => "int32",
        UInt32 => "uint32",
        Int64 => "int64",
        UInt64 => "uint64",
        Float32 => "float32",
        Float64 => "float64",
        Decimal => "decimal",
        DateTime => "datetime",
        DateTimeOffset => "datetimeoffset",
        TimeSpan => "timespan",
        Guid => "guid",
        String => "string",
        Object => "object",
        MemoryPack => "memorypack",
        _ => $"unknown(0x{code:x2})",
    };
}
