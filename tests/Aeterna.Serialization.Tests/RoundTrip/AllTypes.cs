using System.Collections.Immutable;

namespace Aeterna.Serialization.Tests.RoundTrip;

public enum Priority : long { Low = -1, Normal = 0, High = long.MaxValue }

/// <summary>A struct state type (no null, created with its parameterless constructor).</summary>
public partial struct Point
{
    [RelayState] public int X;
    [RelayState] public int Y;
}

/// <summary>Every member type the generator supports, once.</summary>
public partial class AllTypes
{
    [RelayState] public bool Bool { get; set; }
    [RelayState] public sbyte SByte { get; set; }
    [RelayState] public byte Byte { get; set; }
    [RelayState] public short Int16 { get; set; }
    [RelayState] public ushort UInt16 { get; set; }
    [RelayState] public char Char { get; set; }
    [RelayState] public int Int32 { get; set; }
    [RelayState] public uint UInt32 { get; set; }
    [RelayState] public long Int64 { get; set; }
    [RelayState] public ulong UInt64 { get; set; }
    [RelayState] public float Single { get; set; }
    [RelayState] public double Double { get; set; }
    [RelayState] public decimal Decimal { get; set; }
    [RelayState] public DateTime DateTime { get; set; }
    [RelayState] public DateTimeOffset DateTimeOffset { get; set; }
    [RelayState] public TimeSpan TimeSpan { get; set; }
    [RelayState] public Guid Guid { get; set; }
    [RelayState] public string? String { get; set; }
    [RelayState] public Priority Enum { get; set; }
    [RelayState] public Role SmallEnum { get; set; }

    [RelayState] public int? NullableInt { get; set; }
    [RelayState] public Guid? NullableGuid { get; set; }
    [RelayState] public DateTime? NullableDateTime { get; set; }
    [RelayState] public Priority? NullableEnum { get; set; }
    [RelayState] public Point? NullablePoint { get; set; }

    [RelayState] public int[]? Ints { get; set; }
    [RelayState] public double[]? Doubles { get; set; }
    [RelayState] public string?[]? Strings { get; set; }
    [RelayState] public byte[]? Bytes { get; set; }
    [RelayState] public ReadOnlyMemory<byte> Memory { get; set; }
    [RelayState] public List<long>? LongList { get; set; }
    [RelayState] public List<string>? StringList { get; set; }
    [RelayState] public HashSet<string>? Set { get; set; }
    [RelayState] public Queue<int>? Queue { get; set; }
    [RelayState] public ImmutableArray<int> ImmutableInts { get; set; }
    [RelayState] public ImmutableArray<string> ImmutableStrings { get; set; }
    [RelayState] public Dictionary<string, int>? Map { get; set; }
    [RelayState] public Dictionary<Guid, List<ChatTurn>>? NestedMap { get; set; }
    [RelayState] public List<int[]>? Jagged { get; set; }
    [RelayState] public Point Point { get; set; }
    [RelayState] public ChatTurn? Record { get; set; }
    [RelayState] public Session? Session { get; set; }
    [RelayState] public List<Point>? Points { get; set; }
    [RelayState] public RelayMemory<float>? Embeddings { get; set; }
    [RelayState] private int _privateField = 42;

    public int PrivateField { get => _privateField; set => _privateField = value; }
}
