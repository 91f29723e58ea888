using System.Buffers;
using System.Collections.Immutable;
using Aeterna.Serialization;
using FsCheck.Xunit;

namespace Aeterna.Serialization.Tests.RoundTrip;

/// <summary>
/// The generated code of the types in this folder (compiled by the SDK's compiler with the
/// generator as an analyzer, as an app would be) writes and reads every supported type.
/// </summary>
public class RoundTripTests
{
    private static readonly DateTimeOffset Noon = new(2025, 3, 1, 12, 0, 0, TimeSpan.FromHours(2));

    internal static AllTypes Sample()
    {
        var embeddings = RelayMemory<float>.Allocate(3, "test");
        embeddings.Span[2] = 0.5f;
        return new AllTypes
        {
            Bool = true, SByte = -5, Byte = 250, Int16 = -30000, UInt16 = 60000, Char = 'é', Int32 = int.MinValue, UInt32 = uint.MaxValue,
            Int64 = long.MinValue, UInt64 = ulong.MaxValue, Single = 1.5f, Double = Math.PI, Decimal = -79228162514264337593543950335m / 3,
            DateTime = new DateTime(2024, 2, 29, 23, 59, 59, DateTimeKind.Utc).AddTicks(1234567), DateTimeOffset = Noon,
            TimeSpan = TimeSpan.FromTicks(-123456789), Guid = Guid.NewGuid(), String = "héllo 🌍", Enum = Priority.High, SmallEnum = Role.Tool,
            NullableInt = 7, NullableGuid = null, NullableDateTime = DateTime.UnixEpoch, NullableEnum = Priority.Low, NullablePoint = new Point { X = 1, Y = 2 },
            Ints = [1, -2, int.MaxValue], Doubles = [double.NaN, double.NegativeInfinity, 0.1], Strings = ["a", null, ""], Bytes = [0, 255, 128],
            Memory = new byte[] { 9, 8, 7 }, LongList = [long.MaxValue, 0], StringList = ["x", "y"], Set = ["p", "q"], Queue = new Queue<int>([3, 1, 2]),
            ImmutableInts = [5, 6], ImmutableStrings = ["im", "mutable"], Map = new() { ["one"] = 1, ["two"] = 2 },
            NestedMap = new() { [Guid.Empty] = [new ChatTurn(Role.User, "hi") { Tokens = 2, At = Noon }] },
            Jagged = [[1], [], [2, 3]], Point = new Point { X = -1, Y = int.MaxValue },
            Record = new ChatTurn(Role.Assistant, "hello") { Tokens = 5, At = Noon },
            Session = new Session { User = "ada", Temperature = 0.1, Turns = [new ChatTurn(Role.System, "be brief")] },
            Points = [new Point { X = 3, Y = 4 }], Embeddings = embeddings, PrivateField = -42,
        };
    }

    internal static void AssertSame(AllTypes expected, AllTypes actual)
    {
        Assert.Equal(expected.Bool, actual.Bool);
        Assert.Equal(expected.SByte, actual.SByte);
        Assert.Equal(expected.Byte, actual.Byte);
        Assert.Equal(expected.Int16, actual.Int16);
        Assert.Equal(expected.UInt16, actual.UInt16);
        Assert.Equal(expected.Char, actual.Char);
        Assert.Equal(expected.Int32, actual.Int32);
        Assert.Equal(expected.UInt32, actual.UInt32);
        Assert.Equal(expected.Int64, actual.Int64);
        Assert.Equal(expected.UInt64, actual.UInt64);
        Assert.Equal(expected.Single, actual.Single);
        Assert.Equal(expected.Double, actual.Double);
        Assert.Equal(expected.Decimal, actual.Decimal);
        Assert.Equal(expected.DateTime, actual.DateTime);
        Assert.Equal(expected.DateTime.Kind, actual.DateTime.Kind);
        Assert.Equal(expected.DateTimeOffset, actual.DateTimeOffset);
        Assert.Equal(expected.DateTimeOffset.Offset, actual.DateTimeOffset.Offset);
        Assert.Equal(expected.TimeSpan, actual.TimeSpan);
        Assert.Equal(expected.Guid, actual.Guid);
        Assert.Equal(expected.String, actual.String);
        Assert.Equal(expected.Enum, actual.Enum);
        Assert.Equal(expected.SmallEnum, actual.SmallEnum);
        Assert.Equal(expected.NullableInt, actual.NullableInt);
        Assert.Equal(expected.NullableGuid, actual.NullableGuid);
        Assert.Equal(expected.NullableDateTime, actual.NullableDateTime);
        Assert.Equal(expected.NullableEnum, actual.NullableEnum);
        Assert.Equal(expected.NullablePoint, actual.NullablePoint);
        Assert.Equal(expected.Ints, actual.Ints);
        Assert.Equal(expected.Doubles, actual.Doubles);
        Assert.Equal(expected.Strings, actual.Strings);
        Assert.Equal(expected.Bytes, actual.Bytes);
        Assert.Equal(expected.Memory.ToArray(), actual.Memory.ToArray());
        Assert.Equal(expected.LongList, actual.LongList);
        Assert.Equal(expected.StringList, actual.StringList);
        Assert.Equal(expected.Set, actual.Set);
        Assert.Equal(expected.Queue, actual.Queue);
        Assert.Equal(expected.ImmutableInts.IsDefault, actual.ImmutableInts.IsDefault);
        if (!expected.ImmutableInts.IsDefault) Assert.Equal(expected.ImmutableInts.ToArray(), actual.ImmutableInts.ToArray());
        Assert.Equal(expected.ImmutableStrings.IsDefault, actual.ImmutableStrings.IsDefault);
        if (!expected.ImmutableStrings.IsDefault) Assert.Equal(expected.ImmutableStrings.ToArray(), actual.ImmutableStrings.ToArray());
        Assert.Equal(expected.Map, actual.Map);
        Assert.Equal(expected.NestedMap?.Keys, actual.NestedMap?.Keys);
        if (expected.NestedMap is not null)
            foreach (var (key, turns) in expected.NestedMap) Assert.Equal(turns, actual.NestedMap![key]);
        Assert.Equal(expected.Jagged, actual.Jagged);
        Assert.Equal(expected.Point, actual.Point);
        Assert.Equal(expected.Record, actual.Record);
        Assert.Equal(expected.Session?.User, actual.Session?.User);
        Assert.Equal(expected.Session?.Temperature, actual.Session?.Temperature);
        Assert.Equal(expected.Session?.Turns, actual.Session?.Turns);
        Assert.Equal(expected.Points, actual.Points);
        Assert.Equal(expected.Embeddings?.Span.ToArray(), actual.Embeddings?.Span.ToArray());
        Assert.Equal(expected.PrivateField, actual.PrivateField);
    }

    [Fact]
    public void Every_supported_type_round_trips()
    {
        var original = Sample();
        byte[] bytes = RelaySerializer.Serialize(original);
        var copy = RelaySerializer.Deserialize<AllTypes>(bytes);
        AssertSame(original, copy);
        // Writing the copy again gives the same bytes: nothing was lost or reordered.
        Assert.Equal(bytes, RelaySerializer.Serialize(copy));
    }

    [Fact]
    public void Every_supported_type_round_trips_with_UTF16_strings()
    {
        var original = Sample();
        byte[] utf16 = RelaySerializer.Serialize(original, RelayStringEncoding.Utf16);
        var copy = RelaySerializer.Deserialize<AllTypes>(utf16);
        AssertSame(original, copy);
        // The same value, its strings in the other encoding: both read the same, UTF-16 takes more room.
        Assert.Equal(RelaySerializer.Serialize(original), RelaySerializer.Serialize(copy));
        Assert.True(utf16.Length > RelaySerializer.Serialize(original).Length);
        // Strings that UTF-8 cannot carry (a lone surrogate) survive UTF-16 unchanged.
        var lone = RelaySerializer.Deserialize<AllTypes>(RelaySerializer.Serialize(new AllTypes { String = "a\uD800b", Strings = ["", null, "\uDFFF"] }, RelayStringEncoding.Utf16));
        Assert.Equal("a\uD800b", lone.String);
        Assert.Equal(new string?[] { "", null, "\uDFFF" }, lone.Strings!);
    }

    [Fact]
    public void Nulls_and_defaults_round_trip()
    {
        var empty = new AllTypes { String = null, Session = null, Record = null, Embeddings = null };
        var copy = RelaySerializer.Deserialize<AllTypes>(RelaySerializer.Serialize(empty));
        AssertSame(empty, copy);
        Assert.Null(copy.Ints);
        Assert.True(copy.ImmutableInts.IsDefault);
    }

    [Fact]
    public void ReadState_reads_into_the_instance_and_keeps_the_dictionary_comparer()
    {
        var memory = new AgentMemory();
        memory.History.Add(new ChatTurn(Role.User, "hello") { Tokens = 1, At = Noon });
        memory.Sessions["Ada"] = new Session { User = "Ada" };
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new RelayWriter(buffer);
        ((IRelayState)memory).WriteState(ref writer);
        writer.Flush();

        var next = new AgentMemory();
        var reader = new RelayReader(buffer.WrittenSpan);
        ((IRelayState)next).ReadState(ref reader);

        Assert.Equal(0, reader.Remaining);
        Assert.Equal(memory.History, next.History);
        // The initializer's OrdinalIgnoreCase comparer survived: the dictionary was refilled, not replaced.
        Assert.Equal("Ada", next.Sessions["ADA"].User);
    }

    [Fact]
    public void Serialize_to_a_buffer_writer_and_from_a_segmented_sequence()
    {
        var original = Sample();
        var buffer = new ArrayBufferWriter<byte>(16);
        RelaySerializer.Serialize(buffer, original);
        byte[] bytes = buffer.WrittenSpan.ToArray();
        Assert.Equal(RelaySerializer.Serialize(original), bytes);

        var first = new Segment(bytes.AsMemory(0, bytes.Length / 2));
        var last = first.Append(bytes.AsMemory(bytes.Length / 2));
        var copy = RelaySerializer.Deserialize<AllTypes>(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length));
        AssertSame(original, copy);
    }

    [Fact]
    public void Unregistered_types_are_refused_with_the_fix()
    {
        var error = Assert.Throws<InvalidOperationException>(() => RelaySerializer.Serialize(new object()));
        Assert.Contains("[RelayState]", error.Message);
    }

    [Fact]
    public void Trailing_bytes_are_refused()
    {
        byte[] bytes = [.. RelaySerializer.Serialize(new Session()), 0];
        Assert.Throws<RelayFormatException>(() => RelaySerializer.Deserialize<Session>(bytes));
    }

    [Fact]
    public void The_module_initializer_registered_the_types_and_the_schema()
    {
        Assert.True(RelaySerializer.IsRegistered<AllTypes>());
        Assert.True(RelaySerializer.IsRegistered<Point>());
        Assert.Contains("\"name\":\"Aeterna.Serialization.Tests.RoundTrip.AgentMemory\"", RelaySchema.ManifestJson);
        Assert.Contains("\"key\":\"history\"", RelaySchema.ManifestJson);
        using var json = System.Text.Json.JsonDocument.Parse(RelaySchema.ManifestJson);
        Assert.Equal(1, json.RootElement.GetProperty("format").GetInt32());
    }

    [Property(MaxTest = 200)]
    public bool Scalars_round_trip(bool b, sbyte sb, short s, ushort us, char c, int i, uint ui, long l, ulong ul, decimal d, DateTime dt, Guid g, TimeSpan ts)
    {
        var value = new AllTypes { Bool = b, SByte = sb, Int16 = s, UInt16 = us, Char = c, Int32 = i, UInt32 = ui, Int64 = l, UInt64 = ul, Decimal = d, DateTime = dt, Guid = g, TimeSpan = ts };
        var copy = RelaySerializer.Deserialize<AllTypes>(RelaySerializer.Serialize(value));
        AssertSame(value, copy);
        return true;
    }

    [Property(MaxTest = 200)]
    public bool Floats_round_trip_bit_for_bit(float f, double d, DateTimeOffset dto)
    {
        var copy = RelaySerializer.Deserialize<AllTypes>(RelaySerializer.Serialize(new AllTypes { Single = f, Double = d, DateTimeOffset = dto }));
        return BitConverter.SingleToInt32Bits(f) == BitConverter.SingleToInt32Bits(copy.Single)
            && BitConverter.DoubleToInt64Bits(d) == BitConverter.DoubleToInt64Bits(copy.Double)
            && dto == copy.DateTimeOffset && dto.Offset == copy.DateTimeOffset.Offset;
    }

    [Property(MaxTest = 200)]
    public bool Collections_round_trip(int[]? ints, string?[]? strings, byte[]? bytes, int? maybe, Dictionary<string, int>? map, List<long>? longs, string[]? setItems)
    {
        strings = strings?.Select(Valid).ToArray();
        if (map is not null) map = map.ToDictionary(e => Valid(e.Key)!, e => e.Value);
        HashSet<string>? set = setItems is null ? null : [.. setItems.Where(v => v is not null).Select(v => Valid(v)!)];
        var value = new AllTypes
        {
            Ints = ints, Strings = strings, Bytes = bytes, NullableInt = maybe, Map = map, LongList = longs, Set = set,
            ImmutableInts = ints is null ? default : [.. ints], Queue = ints is null ? null : new Queue<int>(ints),
            Jagged = ints?.Select(x => new[] { x, -x }).ToList(), Points = ints?.Select(x => new Point { X = x, Y = ~x }).ToList(),
        };
        var copy = RelaySerializer.Deserialize<AllTypes>(RelaySerializer.Serialize(value));
        AssertSame(value, copy);
        return true;
    }

    [Property(MaxTest = 100)]
    public bool Chat_histories_round_trip(string[] texts, int tokens)
    {
        var session = new Session { User = "u", Turns = [.. texts.Select((t, n) => new ChatTurn((Role)(n % 4), Valid(t)!) { Tokens = tokens + n, At = Noon.AddSeconds(n) })] };
        var copy = RelaySerializer.Deserialize<Session>(RelaySerializer.Serialize(session));
        Assert.Equal(session.Turns, copy.Turns);
        return true;
    }

    /// <summary>Strings with lone surrogates are not valid Unicode: UTF-8 cannot carry them (they become U+FFFD).</summary>
    private static string? Valid(string? text) => text is null ? null : new string([.. text.Where(c => !char.IsSurrogate(c))]);

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
