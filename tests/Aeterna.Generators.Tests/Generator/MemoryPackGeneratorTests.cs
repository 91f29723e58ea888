using Aeterna.Generators.Tests.Support;
using Aeterna.Tests.Support;
using Microsoft.CodeAnalysis;

namespace Aeterna.Generators.Tests.Generator;

/// <summary>
/// Members of MemoryPack types: the generated source (approved files in Snapshots/), that it compiles
/// with MemoryPack's generator beside ours, that no MemoryPack code is generated for apps without
/// MemoryPack members, and the diagnostics for MemoryPack types that cannot be relayed.
/// </summary>
public class MemoryPackGeneratorTests
{
    private const string Source = """
        using System.Collections.Generic;
        using Aeterna;
        using MemoryPack;

        namespace Sample;

        [MemoryPackable]
        public partial class Profile
        {
            public string Name { get; set; } = "";
            public List<Tag> Tags { get; set; } = new();
        }

        [MemoryPackable(GenerateType.VersionTolerant)]
        public partial class Tag
        {
            [MemoryPackOrder(0)] public string Label { get; set; } = "";
            [MemoryPackOrder(2)] public int Weight { get; set; }
        }

        public partial class Team
        {
            [RelayState] private Profile _lead = new();
            [RelayState] private List<Profile> _members = new();
            [RelayState] private int _size;
        }
        """;

    [Fact]
    public void State_type_with_MemoryPack_members_matches_the_approved_source() =>
        Snapshot.Match("Team.g.cs", Generated("Team.RelayState.g.cs"));

    [Fact]
    public void Bootstrap_registers_the_MemoryPack_types_and_holds_the_bridge() =>
        Snapshot.Match("MemoryPackBootstrap.g.cs", Generated("AeternaBootstrap.g.cs"));

    [Fact]
    public void Generated_source_compiles_with_MemoryPacks_generator_without_warnings()
    {
        var (all, output) = GeneratorHarness.RunAll(GeneratorHarness.Compile("Sample", Source), withMemoryPack: true);
        Assert.Empty(all.Diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning));
    }

    [Fact]
    public void No_MemoryPack_code_is_generated_for_state_without_MemoryPack_members()
    {
        // An app that does not use MemoryPack compiles without a reference to it.
        var compilation = GeneratorHarness.Compile("Plain", GeneratorHarness.ReferencesWithoutMemoryPack,
            "using Aeterna; namespace Plain; public partial class S { [RelayState] public int A; [RelayState] public string B = \"\"; }");
        var (run, output) = GeneratorHarness.Run(compilation, withMemoryPack: false);
        Assert.Empty(run.Diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        Assert.All(run.GeneratedSources, s => Assert.DoesNotContain("MemoryPack", s.SourceText.ToString()));
    }

    public static TheoryData<string, string, string> Unrelayable => new()
    {
        // source of the MemoryPack type, a word the message must contain, the same type fixed
        { "[MemoryPackable] public class P { public int A { get; set; } }", "not partial", "[MemoryPackable] public partial class P { public int A { get; set; } }" },
        { "public class Outer { [MemoryPackable] public partial class P { public int A { get; set; } } }", "'Outer'", "public partial class Outer { [MemoryPackable] public partial class P { public int A { get; set; } } }" },
        { "[MemoryPackable(GenerateType.NoGenerate)] public partial class P { public int A { get; set; } }", "NoGenerate", "[MemoryPackable(GenerateType.Object)] public partial class P { public int A { get; set; } }" },
        { "[MemoryPackable] public partial class P { public List<P> Children { get; set; } = new(); }", "holds itself", "[MemoryPackable] public partial class P { public List<int> Children { get; set; } = new(); }" },
        { "[MemoryPackable] public partial class P { public Q Child { get; set; } = new(); } [MemoryPackable] public partial class Q { public P? Back { get; set; } }", "T.P → T.Q → T.P", "[MemoryPackable] public partial class P { public Q Child { get; set; } = new(); } [MemoryPackable] public partial class Q { public int Back { get; set; } }" },
    };

    [Theory]
    [MemberData(nameof(Unrelayable))]
    public void A_MemoryPack_type_that_cannot_be_relayed_is_AET0014_and_not_once_fixed(string type, string mentions, string fixedType)
    {
        string state = "public partial class S { [RelayState] public P? Value { get; set; } }";
        if (type.Contains("class Outer", StringComparison.Ordinal)) state = state.Replace("P?", "Outer.P?", StringComparison.Ordinal);
        var diagnostic = Assert.Single(Diagnose(type + "\n" + state), d => d.Id == "AET0014");
        string message = diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(mentions, message);
        Assert.Contains("'T.S.Value'", message);
        Assert.Contains("Fix:", message);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);

        var (all, output) = GeneratorHarness.RunAll(GeneratorHarness.Compile("Good", Wrap(fixedType + "\n" + state)), withMemoryPack: true);
        Assert.Empty(all.Diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
    }

    [Fact]
    public void A_private_nested_MemoryPack_type_is_AET0014()
    {
        var raised = Diagnose("public partial class S { [MemoryPackable] private partial class P { public int A { get; set; } } [RelayState] private P _value = new(); }");
        Assert.Contains("accessible", Assert.Single(raised, d => d.Id == "AET0014").GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void A_MemoryPack_type_from_a_library_without_a_MemoryPack_reference_here_is_AET0015()
    {
        // The library uses MemoryPack; the app references the library but not MemoryPack.
        var library = MetadataReference.CreateFromImage(GeneratorHarness.Emit(GeneratorHarness.Compile("Lib",
            "using MemoryPack; namespace Lib; [MemoryPackable] public partial class Profile { public string Name { get; set; } = \"\"; }")));
        var app = GeneratorHarness.Compile("App", [.. GeneratorHarness.ReferencesWithoutMemoryPack, library],
            "using Aeterna; namespace App; public partial class S { [RelayState] public Lib.Profile? Owner { get; set; } }");
        var (run, _) = GeneratorHarness.Run(app, withMemoryPack: false);
        var diagnostic = Assert.Single(run.Diagnostics, d => d.Id == "AET0015");
        string message = diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains("Lib.Profile", message);
        Assert.Contains("PackageReference Include=\"MemoryPack\"", message);

        // With the reference, the library's (generated) MemoryPack type relays.
        var fixedApp = GeneratorHarness.Compile("App", [.. GeneratorHarness.References, library],
            "using Aeterna; namespace App; public partial class S { [RelayState] public Lib.Profile? Owner { get; set; } }");
        var (fixedRun, output) = GeneratorHarness.Run(fixedApp, withMemoryPack: true);
        Assert.Empty(fixedRun.Diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
    }

    [Fact]
    public void A_library_type_built_without_MemoryPacks_generator_is_AET0014()
    {
        // [MemoryPackable] but compiled without MemoryPack's generator: it has no serializer.
        var compilation = GeneratorHarness.Compile("Lib", "using MemoryPack; namespace Lib; [MemoryPackable] public partial class Profile { public string Name { get; set; } = \"\"; }");
        using var image = new MemoryStream();
        Assert.True(compilation.Emit(image).Success);
        var app = GeneratorHarness.Compile("App", [.. GeneratorHarness.References, MetadataReference.CreateFromImage(image.ToArray())],
            "using Aeterna; namespace App; public partial class S { [RelayState] public Lib.Profile? Owner { get; set; } }");
        var (run, _) = GeneratorHarness.Run(app, withMemoryPack: true);
        Assert.Contains("generator", Assert.Single(run.Diagnostics, d => d.Id == "AET0014").GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    private static IReadOnlyList<Diagnostic> Diagnose(string source) =>
        GeneratorHarness.Run(GeneratorHarness.Compile("Bad", Wrap(source)), withMemoryPack: true).Run.Diagnostics;

    private static string Wrap(string source) => "using System.Collections.Generic;\nusing Aeterna;\nusing MemoryPack;\nnamespace T;\n" + source;

    private static string Generated(string suffix)
    {
        var (run, _) = GeneratorHarness.Run("Sample", Source);
        return run.GeneratedSources.Single(s => s.HintName.EndsWith(suffix, StringComparison.Ordinal)).SourceText.ToString();
    }
}
