using Aeterna.Serialization.Tests.MemoryPackMembers;
using Aeterna.Serialization.Tests.RoundTrip;

namespace Aeterna.Fuzz.States;

/// <summary>Valid state values with every member filled, whose encodings start the state targets' corpora.</summary>
public static class StateSamples
{
    private static readonly DateTimeOffset Noon = new(2025, 3, 1, 12, 0, 0, TimeSpan.FromHours(2));

    public static AllTypes AllTypes() => new()
    {
        Bool = true, SByte = -5, Byte = 250, Int16 = -30000, UInt16 = 60000, Char = 'é', Int32 = int.MinValue, UInt32 = uint.MaxValue,
        Int64 = long.MinValue, UInt64 = ulong.MaxValue, Single = 1.5f, Double = Math.PI, Decimal = -79228162514264337593543950335m / 3,
        DateTime = new DateTime(2024, 2, 29, 23, 59, 59, DateTimeKind.Utc).AddTicks(1234567), DateTimeOffset = Noon,
        TimeSpan = TimeSpan.FromTicks(-123456789), Guid = new Guid("0f8fad5b-d9cb-469f-a165-70867728950e"), String = "héllo 🌍",
        Enum = Priority.High, SmallEnum = Role.Tool,
        NullableInt = 7, NullableGuid = null, NullableDateTime = DateTime.UnixEpoch, NullableEnum = Priority.Low, NullablePoint = new Point { X = 1, Y = 2 },
        Ints = [1, -2, int.MaxValue], Doubles = [double.NaN, double.NegativeInfinity, 0.1], Strings = ["a", null, ""], Bytes = [0, 255, 128],
        Memory = new byte[] { 9, 8, 7 }, LongList = [long.MaxValue, 0], StringList = ["x", "y"], Set = ["p", "q"], Queue = new Queue<int>([3, 1, 2]),
        ImmutableInts = [5, 6], ImmutableStrings = ["im", "mutable"], Map = new() { ["one"] = 1, ["two"] = 2 },
        NestedMap = new() { [Guid.Empty] = [new ChatTurn(Role.User, "hi") { Tokens = 2, At = Noon }] },
        Jagged = [[1], [], [2, 3]], Point = new Point { X = -1, Y = int.MaxValue },
        Record = new ChatTurn(Role.Assistant, "hello") { Tokens = 5, At = Noon },
        Session = new Session { User = "ada", Temperature = 0.1, Turns = [new ChatTurn(Role.System, "be brief")] },
        Points = [new Point { X = 3, Y = 4 }], Embeddings = null, PrivateField = -42,
    };

    public static AgentMemory AgentMemory()
    {
        var memory = new AgentMemory();
        memory.History.Add(new ChatTurn(Role.User, "what is a relay?") { Tokens = 4, At = Noon });
        memory.History.Add(new ChatTurn(Role.Assistant, "a hand-over") { Tokens = 3, At = Noon });
        memory.Sessions["Ada"] = new Session { User = "ada", Turns = [new ChatTurn(Role.Tool, "{}")] };
        return memory;
    }

    public static TeamState TeamState() => new()
    {
        Owner = Lovelace(),
        Team = [Lovelace(), new Member { Name = "Grace", Numbers = [] }],
        Badges = new() { ["first"] = new Badge { Label = "one", Weight = 1 } },
        Where = new Position { X = 1, Y = 2 },
        Shape = new Circle { Radius = 4 },
        Turns = 7,
        Note = "note",
    };

    private static Member Lovelace() => new()
    {
        Name = "Ada", Age = 36, Mood = Mood.Curious,
        Badges = [new Badge { Label = "math", Weight = 9 }], Favourite = new Badge { Label = "engines", Weight = 10 },
        Scores = new() { ["chess"] = 0.75 }, Home = new Position { X = 51.5, Y = -0.1 }, Numbers = [1, 2, 3],
    };
}
