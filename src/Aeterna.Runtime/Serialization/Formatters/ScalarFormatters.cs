using System.ComponentModel;
using W = Aeterna.Serialization.RelayWireType;

namespace Aeterna.Serialization.Formatters;

#pragma warning disable CS1591 // The formatters are generated code's vocabulary; IRelayFormatter documents their members.

/// <summary><see cref="bool"/>: one byte, 0 or 1.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct BoolFormatter : IRelayFormatter<bool>
{
    public static ReadOnlySpan<byte> WireType => [W.Bool];
    public static void Write(ref RelayWriter writer, bool value) => writer.WriteBool(value);
    public static bool Read(ref RelayReader reader) => reader.ReadBool();
    public static bool ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => reader.ReadBool();
}

[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct SByteFormatter : IRelayFormatter<sbyte>
{
    public static ReadOnlySpan<byte> WireType => [W.Int8];
    public static void Write(ref RelayWriter writer, sbyte value) => writer.WriteUnmanaged(value);
    public static sbyte Read(ref RelayReader reader) => reader.ReadUnmanaged<sbyte>();
    public static sbyte ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => (sbyte)reader.ReadInteger(source[0]);
}

[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct ByteFormatter : IRelayFormatter<byte>
{
    public static ReadOnlySpan<byte> WireType => [W.UInt8];
    public static void Write(ref RelayWriter writer, byte value) => writer.WriteUnmanaged(value);
    public static byte Read(ref RelayReader reader) => reader.ReadUnmanaged<byte>();
    public static byte ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => (byte)reader.ReadInteger(source[0]);
}

[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Int16Formatter : IRelayFormatter<short>
{
    public static ReadOnlySpan<byte> WireType => [W.Int16];
    public static void Write(ref RelayWriter writer, short value) => writer.WriteUnmanaged(value);
    public static short Read(ref RelayReader reader) => reader.ReadUnmanaged<short>();
    public static short ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => (short)reader.ReadInteger(source[0]);
}

[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct UInt16Formatter : IRelayFormatter<ushort>
{
    public static ReadOnlySpan<byte> WireType => [W.UInt16];
    public static void Write(ref RelayWriter writer, ushort value) => writer.WriteUnmanaged(value);
    public static ushort Read(ref RelayReader reader) => reader.ReadUnmanaged<ushort>();
    public static ushort ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => (ushort)reader.ReadInteger(source[0]);
}

[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct CharFormatter : IRelayFormatter<char>
{
    public static ReadOnlySpan<byte> WireType => [W.Char];
    public static void Write(ref RelayWriter writer, char value) => writer.WriteUnmanaged(value);
    public static char Read(ref RelayReader reader) => reader.ReadUnmanaged<char>();
    public static char ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => (char)reader.ReadInteger(source[0]);
}

[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Int32Formatter : IRelayFormatter<int>
{
    public static ReadOnlySpan<byte> WireType => [W.Int32];
    public static void Write(ref RelayWriter writer, int value) => writer.WriteUnmanaged(value);
    public static int Read(ref RelayReader reader) => reader.ReadUnmanaged<int>();
    public static int ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => (int)reader.ReadInteger(source[0]);
}

[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct UInt32Formatter : IRelayFormatter<uint>
{
    public static ReadOnlySpan<byte> WireType => [W.UInt32];
    public static void Write(ref RelayWriter writer, uint value) => writer.WriteUnmanaged(value);
    public static uint Read(ref RelayReader reader) => reader.ReadUnmanaged<uint>();
    public static uint ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => (uint)reader.ReadInteger(source[0]);
}

[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Int64Formatter : IRelayFormatter<long>
{
    public static ReadOnlySpan<byte> WireType => [W.Int64];
    public static void Write(ref RelayWriter writer, long value) => writer.WriteUnmanaged(value);
    public static long Read(ref RelayReader reader) => reader.ReadUnmanaged<long>();
    public static long ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => reader.ReadInteger(source[0]);
}

[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct UInt64Formatter : IRelayFormatter<ulong>
{
    public static ReadOnlySpan<byte> WireType => [W.UInt64];
    public static void Write(ref RelayWriter writer, ulong value) => writer.WriteUnmanaged(value);
    public static ulong Read(ref RelayReader reader) => reader.ReadUnmanaged<ulong>();
    public static ulong ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) =>
        source[0] == W.UInt64 ? Read(ref reader) : (ulong)reader.ReadInteger(source[0]);
}

[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct SingleFormatter : IRelayFormatter<float>
{
    public static ReadOnlySpan<byte> WireType => [W.Float32];
    public static void Write(ref RelayWriter writer, float value) => writer.WriteUnmanaged(value);
    public static float Read(ref RelayReader reader) => reader.ReadUnmanaged<float>();
    public static float ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => (float)reader.ReadFloat(source[0]);
}

[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct DoubleFormatter : IRelayFormatter<double>
{
    public static ReadOnlySpan<byte> WireType => [W.Float64];
    public static void Write(ref RelayWriter writer, double value) => writer.WriteUnmanaged(value);
    public static double Read(ref RelayReader reader) => reader.ReadUnmanaged<double>();
    public static double ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => reader.ReadFloat(source[0]);
}

/// <summary><see cref="decimal"/>: the four ints of <see cref="decimal.GetBits(decimal)"/>.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct DecimalFormatter : IRelayFormatter<decimal>
{
    public static ReadOnlySpan<byte> WireType => [W.Decimal];
    public static void Write(ref RelayWriter writer, decimal value) => writer.WriteDecimal(value);
    public static decimal Read(ref RelayReader reader) => reader.ReadDecimal();
    public static decimal ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => source[0] switch
    {
        W.Decimal => reader.ReadDecimal(),
        W.UInt64 => reader.ReadUnmanaged<ulong>(),
        _ => reader.ReadInteger(source[0]),
    };
}

[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct DateTimeFormatter : IRelayFormatter<DateTime>
{
    public static ReadOnlySpan<byte> WireType => [W.DateTime];
    public static void Write(ref RelayWriter writer, DateTime value) => writer.WriteDateTime(value);
    public static DateTime Read(ref RelayReader reader) => reader.ReadDateTime();
    public static DateTime ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => reader.ReadDateTime();
}

[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct DateTimeOffsetFormatter : IRelayFormatter<DateTimeOffset>
{
    public static ReadOnlySpan<byte> WireType => [W.DateTimeOffset];
    public static void Write(ref RelayWriter writer, DateTimeOffset value) => writer.WriteDateTimeOffset(value);
    public static DateTimeOffset Read(ref RelayReader reader) => reader.ReadDateTimeOffset();
    public static DateTimeOffset ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => reader.ReadDateTimeOffset();
}

/// <summary><see cref="TimeSpan"/>: its ticks.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct TimeSpanFormatter : IRelayFormatter<TimeSpan>
{
    public static ReadOnlySpan<byte> WireType => [W.TimeSpan];
    public static void Write(ref RelayWriter writer, TimeSpan value) => writer.WriteUnmanaged(value.Ticks);
    public static TimeSpan Read(ref RelayReader reader) => new(reader.ReadUnmanaged<long>());
    public static TimeSpan ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => Read(ref reader);
}

/// <summary><see cref="Guid"/>: the 16 bytes of <see cref="Guid.TryWriteBytes(Span{byte})"/> (its in-memory layout).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct GuidFormatter : IRelayFormatter<Guid>
{
    public static ReadOnlySpan<byte> WireType => [W.Guid];
    public static void Write(ref RelayWriter writer, Guid value) => writer.WriteUnmanaged(value);
    public static Guid Read(ref RelayReader reader) => reader.ReadUnmanaged<Guid>();
    public static Guid ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => Read(ref reader);
}

/// <summary><see cref="string"/>: int32 UTF-8 length (-1 for null), then the bytes.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct StringFormatter : IRelayFormatter<string?>
{
    public static ReadOnlySpan<byte> WireType => [W.String];
    public static void Write(ref RelayWriter writer, string? value) => writer.WriteString(value);
    public static string? Read(ref RelayReader reader) => reader.ReadString();
    public static string? ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => reader.ReadString();
}
