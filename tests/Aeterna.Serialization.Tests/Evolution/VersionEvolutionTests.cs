using System.Reflection;
using Aeterna.Tests.Support;

namespace Aeterna.Serialization.Tests.Evolution;

/// <summary>
/// A relay always crosses versions: V1 and V2 of the same type, compiled separately (each with the
/// generator) and loaded side by side, read each other's state in both directions.
/// </summary>
public class VersionEvolutionTests
{
    private const string Probe = """
        public static class Probe
        {
            public static byte[] Export(string text) => RelaySerializer.Serialize(AgentState.Sample(text));
            public static string Import(byte[] data) => RelaySerializer.Deserialize<AgentState>(data).Describe();
        }
        """;

    private const string V1 = """
        using System.Collections.Generic;
        using System.Linq;
        using Aeterna;
        namespace App;
        public partial class ChatTurn { [RelayState] public string Text { get; set; } = ""; }
        public partial class AgentState
        {
            [RelayState] public List<ChatTurn> History { get; set; } = new();
            [RelayState] public int Count { get; set; }
            [RelayState] public string Removed { get; set; } = "v1-initial";
            [RelayState] public int Widened { get; set; }
            [RelayState] public Dictionary<string, int> Scores { get; set; } = new();
            public static AgentState Sample(string text) => new() { History = [new ChatTurn { Text = text }], Count = 3, Removed = "gone", Widened = 7, Scores = new() { ["a"] = 1 } };
            public string Describe() => $"history={string.Join(",", History.Select(t => t.Text))} count={Count} removed={Removed} widened={Widened} scores={string.Join(",", Scores.Select(s => s.Key + ":" + s.Value))}";
        }
        """ + Probe;

    /// <summary>Members reordered, one removed, one added, int widened to long, the nested type grew a member, a map's values widened.</summary>
    private const string V2 = """
        using System.Collections.Generic;
        using System.Linq;
        using Aeterna;
        namespace App;
        public partial class ChatTurn { [RelayState] public int Tokens { get; set; } = -1; [RelayState] public string Text { get; set; } = ""; }
        [RelayRemovedKeys("removed")]
        public partial class AgentState
        {
            [RelayState] public long Widened { get; set; }
            [RelayState] public string Added { get; set; } = "v2-initial";
            [RelayState] public Dictionary<string, long> Scores { get; set; } = new();
            [RelayState] public int Count { get; set; }
            [RelayState] public List<ChatTurn> History { get; set; } = new();
            public static AgentState Sample(string text) => new() { History = [new ChatTurn { Text = text, Tokens = 9 }], Count = 4, Added = "new", Widened = 8, Scores = new() { ["b"] = 2 } };
            public string Describe() => $"history={string.Join(",", History.Select(t => t.Text + "/" + t.Tokens))} count={Count} added={Added} widened={Widened} scores={string.Join(",", Scores.Select(s => s.Key + ":" + s.Value))}";
        }
        """ + Probe;

    /// <summary>V2 without the widening, as a release that can still hand state back to V1.</summary>
    private static readonly string V2Compatible = V2.Replace("public long Widened", "public int Widened").Replace("Dictionary<string, long>", "Dictionary<string, int>");

    private static readonly Lazy<Assembly> s_v1 = new(() => GeneratorHarness.CompileAndLoad("AppV1", V1));
    private static readonly Lazy<Assembly> s_v2 = new(() => GeneratorHarness.CompileAndLoad("AppV2", V2));
    private static readonly Lazy<Assembly> s_v2Compatible = new(() => GeneratorHarness.CompileAndLoad("AppV2c", V2Compatible));

    [Fact]
    public void The_new_version_reads_the_old_ones_state()
    {
        byte[] old = Export(s_v1.Value, "hello");
        // Added member keeps its initializer, removed one is skipped, reordering is harmless,
        // int → long and map<string,int32> → map<string,int64> widen, the nested type's new member keeps its initializer.
        Assert.Equal("history=hello/-1 count=3 added=v2-initial widened=7 scores=a:1", Import(s_v2.Value, old));
    }

    [Fact]
    public void The_old_version_reads_the_new_ones_state_for_a_hand_back()
    {
        byte[] newer = Export(s_v2Compatible.Value, "back");
        Assert.Equal("history=back count=4 removed=v1-initial widened=8 scores=b:2", Import(s_v1.Value, newer));
    }

    [Fact]
    public void A_narrowing_change_is_a_clear_error_naming_type_member_and_both_types()
    {
        byte[] newer = Export(s_v2.Value, "x");
        var error = Assert.Throws<RelayFormatException>(() => Import(s_v1.Value, newer));
        Assert.Contains("App.AgentState", error.Message);
        Assert.Contains("'Widened'", error.Message);
        Assert.Contains("int64", error.Message);
        Assert.Contains("int (int32)", error.Message);
    }

    [Fact]
    public void A_type_change_that_cannot_be_read_is_refused()
    {
        var v3 = GeneratorHarness.CompileAndLoad("AppV3", V1.Replace("public int Count { get; set; }", "public string Count { get; set; } = \"\";").Replace("Count = 3,", "Count = \"3\","));
        var error = Assert.Throws<RelayFormatException>(() => Import(v3, Export(s_v1.Value, "x")));
        Assert.Contains("'Count'", error.Message);
        Assert.Contains("int32", error.Message);
        Assert.Contains("string", error.Message);
    }

    private static byte[] Export(Assembly version, string text) => (byte[])GeneratorHarness.Call(version, "App.Probe", "Export", text)!;

    private static string Import(Assembly version, byte[] data)
    {
        try
        {
            return (string)GeneratorHarness.Call(version, "App.Probe", "Import", data)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
    }
}
