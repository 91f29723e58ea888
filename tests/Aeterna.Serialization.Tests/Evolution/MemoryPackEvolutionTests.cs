using System.Reflection;
using Aeterna.Tests.Support;

namespace Aeterna.Serialization.Tests.Evolution;

/// <summary>
/// V1 and V2 of a relay-state type that holds MemoryPack types, compiled separately (each with both
/// generators) and loaded side by side: the surrounding type evolves by the relay format's rules,
/// the MemoryPack types by MemoryPack's.
/// </summary>
public class MemoryPackEvolutionTests
{
    private const string Probe = """
        public static class Probe
        {
            public static byte[] Export(string name) => RelaySerializer.Serialize(AgentState.Sample(name));
            public static string Import(byte[] data) => RelaySerializer.Deserialize<AgentState>(data).Describe();
        }
        """;

    private const string V1 = """
        using System.Collections.Generic;
        using System.Linq;
        using Aeterna;
        using MemoryPack;
        namespace App;
        [MemoryPackable] public partial class Profile { public string Name { get; set; } = ""; public int Age { get; set; } }
        [MemoryPackable(GenerateType.VersionTolerant)] public partial class Note { [MemoryPackOrder(0)] public string Text { get; set; } = ""; [MemoryPackOrder(1)] public int Stars { get; set; } }
        public partial class AgentState
        {
            [RelayState] public Profile Owner { get; set; } = new();
            [RelayState] public List<Note> Notes { get; set; } = new();
            [RelayState] public int Count { get; set; }
            public static AgentState Sample(string name) => new() { Owner = new Profile { Name = name, Age = 30 }, Notes = [new Note { Text = "hi", Stars = 2 }], Count = 3 };
            public string Describe() => $"owner={Owner.Name}/{Owner.Age} notes={string.Join(",", Notes.Select(n => n.Text + "/" + n.Stars))} count={Count}";
        }
        """ + Probe;

    /// <summary>
    /// The surrounding type reordered and grew a member; Profile (MemoryPack's default mode) grew a
    /// member at its end; Note (version-tolerant) dropped Stars and grew Author.
    /// </summary>
    private const string V2 = """
        using System.Collections.Generic;
        using System.Linq;
        using Aeterna;
        using MemoryPack;
        namespace App;
        [MemoryPackable] public partial class Profile { public string Name { get; set; } = ""; public int Age { get; set; } public string Email { get; set; } = "none"; }
        [MemoryPackable(GenerateType.VersionTolerant)] public partial class Note { [MemoryPackOrder(0)] public string Text { get; set; } = ""; [MemoryPackOrder(2)] public string Author { get; set; } = "anonymous"; }
        public partial class AgentState
        {
            [RelayState] public int Count { get; set; }
            [RelayState] public string Mode { get; set; } = "v2-initial";
            [RelayState] public List<Note> Notes { get; set; } = new();
            [RelayState] public Profile Owner { get; set; } = new();
            public static AgentState Sample(string name) => new() { Owner = new Profile { Name = name, Age = 40, Email = "a@b" }, Notes = [new Note { Text = "yo", Author = "ada" }], Count = 4, Mode = "new" };
            public string Describe() => $"owner={Owner.Name}/{Owner.Age}/{Owner.Email} notes={string.Join(",", Notes.Select(n => n.Text + "/" + n.Author))} count={Count} mode={Mode}";
        }
        """ + Probe;

    /// <summary>V2 whose Profile did not grow: a release that can still hand its state back to V1.</summary>
    private static readonly string V2Compatible = V2
        .Replace(" public string Email { get; set; } = \"none\";", "")
        .Replace(", Email = \"a@b\"", "")
        .Replace("/{Owner.Email}", "");

    private static readonly Lazy<Assembly> s_v1 = new(() => GeneratorHarness.CompileAndLoad("MpAppV1", V1));
    private static readonly Lazy<Assembly> s_v2 = new(() => GeneratorHarness.CompileAndLoad("MpAppV2", V2));
    private static readonly Lazy<Assembly> s_v2Compatible = new(() => GeneratorHarness.CompileAndLoad("MpAppV2c", V2Compatible));

    [Fact]
    public void The_new_version_reads_the_old_ones_state()
    {
        // MemoryPack's rules inside its values: Profile's new member and Note's are absent from the
        // data and get MemoryPack's default (null: MemoryPack creates the object with every member it
        // did not read at default), Note's dropped member is skipped. The relay format's rules around
        // them: members matched by key whatever their order, the new member keeps its initializer.
        Assert.Equal("owner=ada/30/ notes=hi/ count=3 mode=v2-initial", Import(s_v2.Value, Export(s_v1.Value, "ada")));
    }

    [Fact]
    public void The_old_version_reads_the_new_ones_state_when_the_MemoryPack_types_allow_it()
    {
        Assert.Equal("owner=bob/40 notes=yo/0 count=4", Import(s_v1.Value, Export(s_v2Compatible.Value, "bob")));
    }

    [Fact]
    public void A_MemoryPack_change_the_old_version_cannot_read_is_a_clear_error()
    {
        // MemoryPack's default mode refuses data with more members than the type knows.
        var error = Assert.Throws<RelayFormatException>(() => Import(s_v1.Value, Export(s_v2.Value, "eve")));
        Assert.Contains("App.Profile", error.Message);
        Assert.Contains("MemoryPack", error.Message);
        Assert.Contains("Fix:", error.Message);
    }

    [Fact]
    public void A_member_that_became_a_MemoryPack_type_is_refused_naming_both_types()
    {
        // The same key, once a [RelayState] object, now a MemoryPack type: the two encodings cannot read each other.
        var v0 = GeneratorHarness.CompileAndLoad("MpAppV0", V1
            .Replace("[MemoryPackable] public partial class Profile { public string Name { get; set; } = \"\"; public int Age { get; set; } }",
                "public partial class Profile { [RelayState] public string Name { get; set; } = \"\"; [RelayState] public int Age { get; set; } }"));
        var error = Assert.Throws<RelayFormatException>(() => Import(s_v1.Value, Export(v0, "x")));
        Assert.Contains("'Owner'", error.Message);
        Assert.Contains("object", error.Message);
        Assert.Contains("memorypack", error.Message);
    }

    private static byte[] Export(Assembly version, string name) => (byte[])GeneratorHarness.Call(version, "App.Probe", "Export", name)!;

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
