using Aeterna.Tool.Relay;
using Xunit;

namespace Aeterna.Tool.Tests.Relay;

/// <summary>Pre-flight's schema check: the new build's manifest against the running generation's schema.</summary>
public class SchemaCompatibilityTests
{
    private static string Manifest(params (string Name, string Key, string Type, string Wire)[] members) =>
        "{\"format\":1,\"types\":[{\"name\":\"App.AgentMemory\",\"assembly\":\"App\",\"fingerprint\":\"0\",\"members\":["
        + string.Join(",", members.Select(m => $"{{\"name\":\"{m.Name}\",\"key\":\"{m.Key}\",\"id\":\"0x0\",\"type\":\"{m.Type}\",\"wire\":\"{m.Wire}\"}}"))
        + "]}]}";

    [Fact]
    public void Identical_manifests_have_no_problem()
    {
        string manifest = Manifest(("_history", "history", "List<ChatTurn>", "array<object>"), ("Count", "count", "int", "int32"));
        Assert.Empty(SchemaCompatibility.Compare(manifest, manifest));
    }

    [Fact]
    public void Added_removed_and_reordered_members_are_compatible()
    {
        string running = Manifest(("A", "a", "int", "int32"), ("Gone", "gone", "string", "string"));
        string next = Manifest(("Added", "added", "string", "string"), ("A", "a", "int", "int32"));
        Assert.Empty(SchemaCompatibility.Compare(running, next));
    }

    [Fact]
    public void A_type_change_the_new_build_cannot_read_blocks_the_relay_naming_type_and_member()
    {
        var problem = Assert.Single(SchemaCompatibility.Compare(
            Manifest(("Count", "count", "long", "int64")), Manifest(("Count", "count", "string", "string"))));
        Assert.True(problem.BlocksRelay);
        Assert.Equal("App.AgentMemory", problem.Type);
        Assert.Equal("Count", problem.Member);
        Assert.Contains("App.AgentMemory.Count", problem.Message);
        Assert.Contains("long (int64)", problem.Message);
        Assert.Contains("string (string)", problem.Message);
    }

    [Fact]
    public void A_widening_relays_but_warns_that_the_hand_back_cannot_read_it()
    {
        var problem = Assert.Single(SchemaCompatibility.Compare(
            Manifest(("Scores", "scores", "Dictionary<string, int>", "map<string,int32>")),
            Manifest(("Scores", "scores", "Dictionary<string, long>", "map<string,int64>"))));
        Assert.False(problem.BlocksRelay);
        Assert.Contains("rollback", problem.Message);
    }

    [Fact]
    public void A_dropped_state_type_is_reported_without_blocking()
    {
        var problem = Assert.Single(SchemaCompatibility.Compare(Manifest(("A", "a", "int", "int32")), "{\"format\":1,\"types\":[]}"));
        Assert.False(problem.BlocksRelay);
        Assert.Null(problem.Member);
    }

    [Theory]
    [InlineData("int32", "int64", true)]
    [InlineData("int64", "int32", false)]
    [InlineData("int32", "nullable<int32>", true)]
    [InlineData("nullable<int32>", "int32", false)]
    [InlineData("array<uint16>", "array<int32>", true)]
    [InlineData("map<string,array<object>>", "map<string,array<object>>", true)]
    [InlineData("map<string,int32>", "map<int32,int32>", false)]
    [InlineData("float32", "float64", true)]
    [InlineData("int64", "decimal", true)]
    [InlineData("string", "object", false)]
    [InlineData("memory<float32>", "memory<int32>", false)]
    public void Wire_types_follow_the_runtime_rules(string source, string target, bool readable) =>
        Assert.Equal(readable, SchemaCompatibility.CanRead(source, target));

    [Fact]
    public void A_file_that_is_not_a_manifest_is_a_format_error() =>
        Assert.Throws<FormatException>(() => SchemaCompatibility.Compare("{}", "{\"format\":1,\"types\":[]}"));
}
