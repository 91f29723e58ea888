using Aeterna.Generators.Tests.Support;
using Aeterna.Tests.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Aeterna.Generators.Tests.Generator;

/// <summary>
/// The cookbook's caching test: after an edit that changes no model, every tracked step of the
/// second run is Cached or Unchanged, and nothing holds a symbol or syntax node.
/// </summary>
public class IncrementalTests
{
    private const string State = """
        using System.Collections.Generic;
        using Aeterna;
        [assembly: RelayListener("http", "tcp://0.0.0.0:8080")]
        namespace Sample;
        public partial class AgentMemory
        {
            [RelayState] private List<ChatTurn> _history = new();
            [RelayState] public int Count { get; set; }
        }
        public partial record ChatTurn([property: RelayState] string Text);
        """;

    private static readonly string[] TrackedSteps =
    [
        TrackingNames.MemberTypes, TrackingNames.RecordTypes, TrackingNames.StateTypes, TrackingNames.BootstrapTypes,
        TrackingNames.Listeners, TrackingNames.Bootstrap,
    ];

    [Fact]
    public void An_unrelated_edit_regenerates_nothing()
    {
        var compilation = GeneratorHarness.Compile("Sample", State, "namespace Sample; public class Other { }");
        var driver = GeneratorHarness.Driver(trackSteps: true).RunGenerators(compilation);

        var edited = compilation.ReplaceSyntaxTree(compilation.SyntaxTrees.Last(),
            CSharpSyntaxTree.ParseText("namespace Sample; public class Other { public int Added; }", GeneratorHarness.ParseOptions, path: "Source1.cs"));
        var second = driver.RunGenerators(edited).GetRunResult().Results.Single();

        foreach (string step in TrackedSteps)
        {
            Assert.True(second.TrackedSteps.ContainsKey(step), $"step {step} was not tracked");
            foreach (var output in second.TrackedSteps[step].SelectMany(s => s.Outputs))
                Assert.True(output.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"step {step} output was {output.Reason}");
        }
        Assert.All(second.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs),
            output => Assert.True(output.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"output was {output.Reason}"));
    }

    [Fact]
    public void Adding_a_member_regenerates_that_type()
    {
        var compilation = GeneratorHarness.Compile("Sample", State);
        var driver = GeneratorHarness.Driver(trackSteps: true).RunGenerators(compilation);
        var edited = compilation.ReplaceSyntaxTree(compilation.SyntaxTrees.Single(),
            CSharpSyntaxTree.ParseText(State.Replace("public int Count", "public int Added { get; set; } [RelayState] public int Count"), GeneratorHarness.ParseOptions, path: "Source0.cs"));
        var second = driver.RunGenerators(edited).GetRunResult().Results.Single();
        Assert.Contains(second.TrackedSteps[TrackingNames.StateTypes].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
    }

    [Fact]
    public void Models_hold_no_symbols_or_syntax()
    {
        var driver = GeneratorHarness.Driver(trackSteps: true).RunGenerators(GeneratorHarness.Compile("Sample", State));
        var result = driver.GetRunResult().Results.Single();
        foreach (string step in TrackedSteps)
            foreach (var output in result.TrackedSteps[step].SelectMany(s => s.Outputs))
                AssertPlainData(output.Value, step, depth: 0);
    }

    /// <summary>Walks the value's public properties: none may be (or contain) an ISymbol, SyntaxNode, Compilation or SemanticModel.</summary>
    private static void AssertPlainData(object? value, string step, int depth)
    {
        if (value is null || depth > 8 || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum) return;
        Assert.False(value is ISymbol or SyntaxNode or Compilation or SemanticModel or Location, $"step {step} holds a {value.GetType().Name}");
        if (value is System.Collections.IEnumerable items)
        {
            foreach (var item in items) AssertPlainData(item, step, depth + 1);
            return;
        }
        foreach (var property in value.GetType().GetProperties())
            if (property.GetIndexParameters().Length == 0) AssertPlainData(property.GetValue(value), step, depth + 1);
    }
}
