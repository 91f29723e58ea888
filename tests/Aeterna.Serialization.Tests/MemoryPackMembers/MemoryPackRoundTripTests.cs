using System.Buffers.Binary;
using System.Text.Json;
using MemoryPack;

namespace Aeterna.Serialization.Tests.MemoryPackMembers;

/// <summary>
/// [RelayState] members of MemoryPack types (this folder's types, compiled by the SDK's compiler with
/// both generators, as an app is): written by MemoryPack, inside the relay format's keyed members.
/// </summary>
public class MemoryPackRoundTripTests
{
    internal static Profile Ada() => new()
    {
        Name = "Ada", Age = 36, Mood = Mood.Curious,
        Tags = [new Tag { Label = "math", Weight = 3 }, new Tag { Label = "engines", Weight = 2 }],
        Favourite = new Tag { Label = "café ☕", Weight = 9 },
        Scores = new() { ["chess"] = 0.75, ["go"] = double.NaN },
        Home = new Position { X = 51.5, Y = -0.12 },
        Cache = "changed",
    };

    internal static AgentWithProfiles Sample() => new()
    {
        Owner = Ada(),
        Team = [Ada(), new Profile { Name = "Grace", Tags = [] }],
        Tags = new() { ["first"] = new Tag { Label = "one", Weight = 1 } },
        Where = new Position { X = 1, Y = 2 },
        Shape = new Square { Side = 4 },
        Turns = 7,
        Note = "note",
    };

    private static void AssertSame(Profile? expected, Profile? actual)
    {
        Assert.Equal(expected is null, actual is null);
        if (expected is null || actual is null) return;
        Assert.Equal(expected.Name, actual.Name);
        Assert.Equal(expected.Age, actual.Age);
        Assert.Equal(expected.Mood, actual.Mood);
        Assert.Equal(expected.Tags.Select(t => (t.Label, t.Weight)), actual.Tags.Select(t => (t.Label, t.Weight)));
        Assert.Equal((expected.Favourite?.Label, expected.Favourite?.Weight), (actual.Favourite?.Label, actual.Favourite?.Weight));
        Assert.Equal(expected.Scores, actual.Scores);
        Assert.Equal(expected.Home, actual.Home);
    }

    [Fact]
    public void MemoryPack_members_round_trip_alone_in_collections_nullable_and_as_unions()
    {
        var original = Sample();
        var copy = RelaySerializer.Deserialize<AgentWithProfiles>(RelaySerializer.Serialize(original));

        AssertSame(original.Owner, copy.Owner);
        Assert.Equal(2, copy.Team.Count);
        AssertSame(original.Team[0], copy.Team[0]);
        AssertSame(original.Team[1], copy.Team[1]);
        Assert.Equal(("one", 1), (copy.Tags["first"].Label, copy.Tags["first"].Weight));
        Assert.Equal(original.Where, copy.Where);
        Assert.Equal(4, Assert.IsType<Square>(copy.Shape).Side);
        Assert.Equal((7, "note"), (copy.Turns, copy.Note));
        // [MemoryPackIgnore] is MemoryPack's to honour: the member keeps its initializer.
        Assert.Equal("not relayed", copy.Owner!.Cache);
    }

    [Fact]
    public void Nulls_round_trip()
    {
        var copy = RelaySerializer.Deserialize<AgentWithProfiles>(RelaySerializer.Serialize(new AgentWithProfiles { Owner = null, Where = null, Shape = null, Team = [null!] }));
        Assert.Null(copy.Owner);
        Assert.Null(copy.Where);
        Assert.Null(copy.Shape);
        Assert.Null(Assert.Single(copy.Team));
    }

    [Fact]
    public void The_member_is_keyed_and_holds_exactly_MemoryPacks_bytes_behind_their_length()
    {
        var ada = Ada();
        byte[] data = RelaySerializer.Serialize(new AgentWithProfiles { Owner = ada });
        byte[] memoryPack = MemoryPackSerializer.Serialize(ada);

        // object header (7 members + 1), then the first member: key id of "owner", wire type memorypack (0x25).
        Assert.Equal(8, data[0]);
        Assert.Equal(Fnv1a("owner"), BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(1)));
        Assert.Equal(0x25, data[5]);
        int offset = 6;
        ulong length = ReadVarUInt(data, ref offset);
        Assert.Equal((ulong)memoryPack.Length, length);
        Assert.Equal(memoryPack, data.AsSpan(offset, memoryPack.Length).ToArray());
    }

    [Fact]
    public void The_module_initializer_registered_the_MemoryPack_types_before_anything_touched_them()
    {
        // No test creates or reads a Circle (a union case), so neither its static constructor nor
        // MemoryPack's reflection fallback has registered it: only the generated module initializer can have.
        Assert.True(MemoryPackFormatterProvider.IsRegistered<Circle>());
        Assert.True(MemoryPackFormatterProvider.IsRegistered<IShape>());
    }

    [Fact]
    public void The_manifest_names_the_MemoryPack_types_and_their_layouts()
    {
        using var manifest = JsonDocument.Parse(RelaySchema.ManifestJson);
        var type = manifest.RootElement.GetProperty("types").EnumerateArray()
            .Single(t => t.GetProperty("name").GetString() == typeof(AgentWithProfiles).FullName);
        var members = type.GetProperty("members").EnumerateArray().ToDictionary(m => m.GetProperty("key").GetString()!);

        string profile = typeof(Profile).FullName!, tag = typeof(Tag).FullName!;
        Assert.Equal($"memorypack<{profile}>", members["owner"].GetProperty("wire").GetString());
        Assert.Equal($"array<memorypack<{profile}>>", members["team"].GetProperty("wire").GetString());
        Assert.Equal($"map<string,memorypack<{tag}>>", members["tags"].GetProperty("wire").GetString());
        Assert.Equal($"nullable<memorypack<{typeof(Position).FullName}>>", members["where"].GetProperty("wire").GetString());
        Assert.False(members["turns"].TryGetProperty("memorypack", out _));

        var layouts = members["owner"].GetProperty("memorypack").EnumerateArray().ToDictionary(l => l.GetProperty("name").GetString()!);
        Assert.Equal("object", layouts[profile].GetProperty("mode").GetString());
        Assert.Equal(["Name", "Age", "Mood", "Tags", "Favourite", "Scores", "Home"],
            layouts[profile].GetProperty("members").EnumerateArray().Select(m => m.GetProperty("name").GetString()));
        var mood = layouts[profile].GetProperty("members").EnumerateArray().Single(m => m.GetProperty("name").GetString() == "Mood");
        Assert.Equal($"{typeof(Mood).FullName} (byte)", mood.GetProperty("type").GetString());
        Assert.Equal("versionTolerant", layouts[tag].GetProperty("mode").GetString());
        Assert.Equal("unmanaged", layouts[typeof(Position).FullName!].GetProperty("mode").GetString());

        var union = members["shape"].GetProperty("memorypack").EnumerateArray().First();
        Assert.Equal("union", union.GetProperty("mode").GetString());
        Assert.Equal([typeof(Circle).FullName, typeof(Square).FullName], union.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("type").GetString()));
    }

    [Fact]
    public void A_blob_MemoryPack_does_not_read_to_its_end_is_refused()
    {
        byte[] data = RelaySerializer.Serialize(new AgentWithProfiles { Owner = new Profile { Name = "x" } });
        // Grow the blob by one byte (its length is one varint byte here) and insert a stray byte after MemoryPack's bytes.
        int length = data[6];
        byte[] longer = [.. data.AsSpan(0, 6), (byte)(length + 1), .. data.AsSpan(7, length), 0xEE, .. data.AsSpan(7 + length)];
        var error = Assert.Throws<RelayFormatException>(() => RelaySerializer.Deserialize<AgentWithProfiles>(longer));
        Assert.Contains(typeof(Profile).FullName!, error.Message);
        Assert.Contains("Fix:", error.Message);
    }

    private static uint Fnv1a(string key)
    {
        uint hash = 2166136261;
        foreach (byte b in System.Text.Encoding.UTF8.GetBytes(key)) hash = (hash ^ b) * 16777619;
        return hash;
    }

    private static ulong ReadVarUInt(byte[] data, ref int offset)
    {
        ulong value = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = data[offset++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
    }
}
