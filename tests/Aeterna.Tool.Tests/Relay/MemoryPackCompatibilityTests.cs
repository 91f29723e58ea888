using Aeterna.Tool.Relay;
using Xunit;

namespace Aeterna.Tool.Tests.Relay;

/// <summary>Pre-flight of members whose type is a MemoryPack type: MemoryPack's rules on the layouts the manifests list.</summary>
public class MemoryPackCompatibilityTests
{
    /// <summary>A manifest whose one member holds App.Profile, laid out as given (members as "name:type").</summary>
    private static string Manifest(string mode, params string[] members) => ManifestOf("App.Profile", mode, members);

    private static string ManifestOf(string typeName, string mode, params string[] members)
    {
        string layout = string.Join(",", members.Select((m, i) =>
        {
            var parts = m.Split(':');
            int order = parts.Length == 3 ? int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) : i;
            return $"{{\"order\":{order},\"name\":\"{parts[^2]}\",\"type\":\"{parts[^1]}\"}}";
        }));
        return "{\"format\":1,\"types\":[{\"name\":\"App.AgentMemory\",\"assembly\":\"App\",\"fingerprint\":\"0\",\"members\":["
            + $"{{\"name\":\"_team\",\"key\":\"team\",\"id\":\"0x0\",\"type\":\"List<{typeName}>\",\"wire\":\"array<memorypack<{typeName}>>\","
            + $"\"memorypack\":[{{\"name\":\"{typeName}\",\"mode\":\"{mode}\",\"members\":[{layout}]}}]}}]}}]}}";
    }

    [Fact]
    public void The_same_layout_has_no_problem()
    {
        string manifest = Manifest("object", "Name:string", "Age:int");
        Assert.Empty(SchemaCompatibility.Compare(manifest, manifest));
    }

    [Fact]
    public void Default_mode_members_added_at_the_end_are_read_but_not_handed_back()
    {
        var problem = Assert.Single(SchemaCompatibility.Compare(Manifest("object", "Name:string"), Manifest("object", "Name:string", "Age:int")));
        Assert.False(problem.BlocksRelay);
        Assert.Contains("rollback", problem.Message);
        Assert.Contains("2 members in the data but 1 in the reader", problem.Message);
    }

    [Fact]
    public void Default_mode_members_reordered_or_retyped_block_the_relay()
    {
        var reordered = Assert.Single(SchemaCompatibility.Compare(Manifest("object", "Name:string", "Nick:string"), Manifest("object", "Nick:string", "Name:string")));
        Assert.True(reordered.BlocksRelay);
        Assert.Contains("by position", reordered.Message);
        Assert.Contains("App.AgentMemory._team", reordered.Message);
        Assert.Contains("Fix:", reordered.Message);

        var retyped = Assert.Single(SchemaCompatibility.Compare(Manifest("object", "Name:string", "Age:int"), Manifest("object", "Name:string", "Age:long")));
        Assert.True(retyped.BlocksRelay);
        Assert.Contains("'Age' (long)", retyped.Message);
    }

    [Fact]
    public void Version_tolerant_members_may_come_and_go_but_not_change()
    {
        Assert.Empty(SchemaCompatibility.Compare(
            Manifest("versionTolerant", "0:Name:string", "1:Age:int"),
            Manifest("versionTolerant", "0:Name:string", "2:Email:string")));

        var reused = Assert.Single(SchemaCompatibility.Compare(
            Manifest("versionTolerant", "0:Name:string", "1:Age:int"),
            Manifest("versionTolerant", "0:Name:string", "1:Email:string")));
        Assert.True(reused.BlocksRelay);
        Assert.Contains("[MemoryPackOrder(1)]", reused.Message);
    }

    [Fact]
    public void A_mode_change_blocks_the_relay()
    {
        var problem = Assert.Single(SchemaCompatibility.Compare(Manifest("object", "Name:string"), Manifest("versionTolerant", "0:Name:string")));
        Assert.True(problem.BlocksRelay);
        Assert.Contains("mode object and is now versionTolerant", problem.Message);
    }

    [Fact]
    public void A_renamed_type_with_the_same_layout_reads_and_an_object_member_that_became_MemoryPack_does_not()
    {
        Assert.Empty(SchemaCompatibility.Compare(ManifestOf("App.Profile", "object", "Name:string"), ManifestOf("App.Person", "object", "Name:string")));

        string running = "{\"format\":1,\"types\":[{\"name\":\"App.AgentMemory\",\"assembly\":\"App\",\"fingerprint\":\"0\",\"members\":["
            + "{\"name\":\"_team\",\"key\":\"team\",\"id\":\"0x0\",\"type\":\"List<App.Profile>\",\"wire\":\"array<object>\"}]}]}";
        Assert.True(Assert.Single(SchemaCompatibility.Compare(running, Manifest("object", "Name:string"))).BlocksRelay);
    }

    [Fact]
    public void Union_tags_the_reader_does_not_know_block_the_relay()
    {
        // A new case: read by the new build, not by the old one on a rollback.
        Assert.False(Assert.Single(SchemaCompatibility.Compare(Manifest("union", "0::App.Circle"), Manifest("union", "0::App.Circle", "1::App.Square"))).BlocksRelay);
        Assert.True(Assert.Single(SchemaCompatibility.Compare(Manifest("union", "0::App.Circle", "1::App.Square"), Manifest("union", "0::App.Circle"))).BlocksRelay);
    }
}
