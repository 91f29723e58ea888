using Aeterna.Generators.Tests.Support;
using Aeterna.Tests.Support;

namespace Aeterna.Generators.Tests.Generator;

/// <summary>The generated source, compared with approved files in Snapshots/.</summary>
public class SnapshotTests
{
    private const string Source = """
        using System.Collections.Generic;
        using Aeterna;

        [assembly: RelayListener("http", "tcp://0.0.0.0:8080")]
        [assembly: RelayListener("admin-api", "unix:///run/app/admin.sock")]

        namespace Sample;

        public partial record ChatTurn([property: RelayState] string Role, [property: RelayState] string Text);

        public partial class AgentMemory
        {
            [RelayState] private List<ChatTurn> _history = new();
            [RelayState] private Dictionary<string, int> _sessions = new();
            [RelayState(Key = "vectors")] private RelayMemory<float>? _embeddings;
            [RelayState] public int[] Counts { get; set; } = [];
            [RelayState] public long? Started { get; set; }
        }
        """;

    [Fact]
    public void State_type_matches_the_approved_source() =>
        Snapshot.Match("AgentMemory.g.cs", Generated("AgentMemory.RelayState.g.cs"));

    [Fact]
    public void Positional_record_matches_the_approved_source() =>
        Snapshot.Match("ChatTurn.g.cs", Generated("ChatTurn.RelayState.g.cs"));

    [Fact]
    public void Bootstrap_matches_the_approved_source() =>
        Snapshot.Match("AeternaBootstrap.g.cs", Generated("AeternaBootstrap.g.cs"));

    [Fact]
    public void Generated_source_compiles_without_warnings()
    {
        var (run, output) = GeneratorHarness.Run("Sample", Source);
        Assert.Empty(run.Diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= Microsoft.CodeAnalysis.DiagnosticSeverity.Warning));
    }

    private static string Generated(string suffix)
    {
        var (run, _) = GeneratorHarness.Run("Sample", Source);
        return run.GeneratedSources.Single(s => s.HintName.EndsWith(suffix, StringComparison.Ordinal)).SourceText.ToString();
    }
}
