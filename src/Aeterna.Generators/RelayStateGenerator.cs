using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Aeterna.Generators.Emit;
using Aeterna.Generators.Model;
using Aeterna.Generators.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Aeterna.Generators;

/// <summary>
/// Turns the [RelayState] members of partial types into <c>IRelayState</c> implementations and
/// formatters, and the assembly's state types and [assembly: RelayListener] declarations into a
/// module initializer, a schema and listener accessors.
/// </summary>
/// <remarks>
/// The pipeline follows the incremental-generator cookbook: symbols are read once, in the
/// transforms, into value-equatable models (strings, nested records, equatable arrays) that carry
/// their diagnostics as data; everything after compares models, so an edit that changes no model
/// regenerates nothing.
/// </remarks>
[Generator(LanguageNames.CSharp)]
public sealed class RelayStateGenerator : IIncrementalGenerator
{
    private static readonly IRelayBackend Backend = new BinaryBackend();

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var fromMembers = context.SyntaxProvider.ForAttributeWithMetadataName(
                "Aeterna.RelayStateAttribute",
                static (node, _) => node is VariableDeclaratorSyntax or PropertyDeclarationSyntax or IndexerDeclarationSyntax,
                static (attributed, cancel) => StateTypeParser.Parse(attributed.TargetSymbol.ContainingType, attributed.SemanticModel.Compilation, cancel))
            .WithTrackingName(TrackingNames.MemberTypes);

        // [property: RelayState] on a positional record's parameter is not found by
        // ForAttributeWithMetadataName (the attribute sits on a synthesized property).
        var fromRecordParameters = context.SyntaxProvider.CreateSyntaxProvider(
                static (node, _) => IsRelayStatePropertyParameter(node),
                static (syntax, cancel) => syntax.SemanticModel.GetDeclaredSymbol(syntax.Node.Parent!.Parent!, cancel) is INamedTypeSymbol type
                    ? StateTypeParser.Parse(type, syntax.SemanticModel.Compilation, cancel)
                    : null)
            .Where(static model => model is not null)
            .Select(static (model, _) => model!)
            .WithTrackingName(TrackingNames.RecordTypes);

        var types = fromMembers.Collect()
            .Combine(fromRecordParameters.Collect())
            .SelectMany(static (found, _) => Distinct(found.Left.Concat(found.Right)))
            .WithTrackingName(TrackingNames.StateTypes);

        context.RegisterSourceOutput(types, static (output, model) =>
        {
            foreach (var diagnostic in model.Diagnostics) output.ReportDiagnostic(diagnostic.ToDiagnostic());
            if (model.CanGenerate) output.AddSource(model.HintName, StateTypeEmitter.Emit(model, Backend));
        });

        var assemblyName = context.CompilationProvider
            .Select(static (compilation, _) => compilation.AssemblyName ?? "app")
            .WithTrackingName(TrackingNames.AssemblyName);
        var rootNamespace = context.AnalyzerConfigOptionsProvider
            .Select(static (options, _) => options.GlobalOptions.TryGetValue("build_property.RootNamespace", out string? ns) && SyntaxFacts.IsValidIdentifier(ns.Replace('.', '_')) ? ns : "");

        var bootstrapTypes = types.Combine(assemblyName)
            .Select(static (pair, _) => new BootstrapType(pair.Left.FullyQualifiedName, pair.Left.CanGenerate && pair.Left.IsRegistrable,
                SchemaWriter.TypeJson(pair.Left, pair.Right, Backend),
                pair.Left.CanGenerate
                    ? pair.Left.Members.SelectMany(m => m.Type.AllMemoryPackTypes()).Select(l => l.TypeName).Distinct().ToEquatableArray()
                    : EquatableArray<string>.Empty))
            .Collect()
            .WithTrackingName(TrackingNames.BootstrapTypes);

        var listeners = context.SyntaxProvider.ForAttributeWithMetadataName(
                "Aeterna.RelayListenerAttribute",
                static (node, _) => node is CompilationUnitSyntax,
                static (attributed, _) => ListenerParser.Declarations(attributed.Attributes))
            .Collect()
            .Select(static (declarations, _) => ListenerParser.Validate(declarations.SelectMany(d => d)))
            .WithTrackingName(TrackingNames.Listeners);

        var bootstrap = bootstrapTypes.Combine(listeners).Combine(assemblyName).Combine(rootNamespace)
            .Select(static (all, _) => new BootstrapModel(all.Left.Right, all.Right, all.Left.Left.Left.ToEquatableArray(), all.Left.Left.Right))
            .WithTrackingName(TrackingNames.Bootstrap);

        context.RegisterSourceOutput(bootstrap, static (output, model) =>
        {
            foreach (var diagnostic in model.Listeners.Diagnostics) output.ReportDiagnostic(diagnostic.ToDiagnostic());
            if (model.Types.Count > 0 || model.Listeners.Listeners.Count > 0)
                output.AddSource("AeternaBootstrap.g.cs", BootstrapEmitter.Emit(model));
        });
    }

    private static bool IsRelayStatePropertyParameter(SyntaxNode node) =>
        node is ParameterSyntax { Parent: ParameterListSyntax { Parent: TypeDeclarationSyntax } } parameter
        && parameter.AttributeLists.Any(list => list.Target?.Identifier.IsKind(SyntaxKind.PropertyKeyword) == true
            && list.Attributes.Any(attribute => attribute.Name.ToString().Contains("RelayState")));

    /// <summary>Each annotated member yields its type's model: keep one per type.</summary>
    private static ImmutableArray<StateTypeModel> Distinct(IEnumerable<StateTypeModel> models)
    {
        var seen = new HashSet<string>();
        return models.Where(m => seen.Add(m.FullyQualifiedName)).ToImmutableArray();
    }
}

/// <summary>Names of the pipeline steps, for the incremental caching tests.</summary>
internal static class TrackingNames
{
    public const string MemberTypes = nameof(MemberTypes);
    public const string RecordTypes = nameof(RecordTypes);
    public const string StateTypes = nameof(StateTypes);
    public const string AssemblyName = nameof(AssemblyName);
    public const string BootstrapTypes = nameof(BootstrapTypes);
    public const string Listeners = nameof(Listeners);
    public const string Bootstrap = nameof(Bootstrap);
}
