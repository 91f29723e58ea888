using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Aeterna.Generators;
using Microsoft.CodeAnalysis.CSharp;

namespace Aeterna.Tests.Support;

/// <summary>
/// Runs the generator in memory on source text, as the compiler would: compiles the result, and
/// can load it into its own load context to run the generated code.
/// </summary>
internal static class GeneratorHarness
{
    /// <summary>The framework, Aeterna.Runtime, and MemoryPack.Core (apps that relay MemoryPack types reference it).</summary>
    public static ImmutableArray<MetadataReference> References => s_references.Value;

    /// <summary><see cref="References"/> without MemoryPack: an app that does not use it.</summary>
    public static ImmutableArray<MetadataReference> ReferencesWithoutMemoryPack => s_referencesWithoutMemoryPack.Value;

    private static readonly Lazy<ImmutableArray<MetadataReference>> s_referencesWithoutMemoryPack = new(() =>
    [
        .. ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => Path.GetFileName(path).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(path) is "mscorlib.dll" or "netstandard.dll")
            .Select(path => MetadataReference.CreateFromFile(path)),
        MetadataReference.CreateFromFile(typeof(IRelayState).Assembly.Location),
    ]);

    private static readonly Lazy<ImmutableArray<MetadataReference>> s_references = new(() =>
        [.. ReferencesWithoutMemoryPack, MetadataReference.CreateFromFile(typeof(MemoryPack.MemoryPackSerializer).Assembly.Location)]);

    /// <summary>
    /// MemoryPack's own generator, copied beside the tests by the test project (analyzers/): a
    /// MemoryPack type compiled here needs it, as in an app, for its serializer.
    /// </summary>
    private static readonly Lazy<ImmutableArray<ISourceGenerator>> s_memoryPackGenerators = new(() =>
    {
        string path = Path.Combine(AppContext.BaseDirectory, "analyzers", "MemoryPack.Generator.dll");
        Assert.True(File.Exists(path), $"{path} is missing: the test project copies MemoryPack's generator there");
        return [.. Assembly.LoadFrom(path).GetTypes()
            .Where(t => typeof(IIncrementalGenerator).IsAssignableFrom(t) && !t.IsAbstract && t.GetCustomAttribute<GeneratorAttribute>() is not null)
            .Select(t => ((IIncrementalGenerator)Activator.CreateInstance(t)!).AsSourceGenerator())];
    });

    /// <summary>C# 12 for .NET 10: NET7_0_OR_GREATER tells MemoryPack's generator it may use static abstract members.</summary>
    public static CSharpParseOptions ParseOptions { get; } = new(LanguageVersion.CSharp12, preprocessorSymbols: ["NET", "NET7_0_OR_GREATER", "NET8_0_OR_GREATER"]);

    public static CSharpCompilation Compile(string assemblyName, params string[] sources) => Compile(assemblyName, References, sources);

    public static CSharpCompilation Compile(string assemblyName, IEnumerable<MetadataReference> references, params string[] sources) =>
        CSharpCompilation.Create(assemblyName,
            sources.Select((source, i) => CSharpSyntaxTree.ParseText(source, ParseOptions, path: $"Source{i}.cs")),
            references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: true)
                // As the SDK does: assembly version unification is not a problem of the code (MemoryPack.Core targets net8.0).
                .WithSpecificDiagnosticOptions([new("CS1701", ReportDiagnostic.Suppress), new("CS1702", ReportDiagnostic.Suppress)]));

    /// <summary>The relay-state generator alone, or with MemoryPack's beside it (as in an app that references MemoryPack).</summary>
    public static GeneratorDriver Driver(bool trackSteps = false, bool withMemoryPack = false) =>
        CSharpGeneratorDriver.Create([new RelayStateGenerator().AsSourceGenerator(), .. withMemoryPack ? s_memoryPackGenerators.Value : []], parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

    /// <summary>The generator's result on <paramref name="sources"/>: generated files and diagnostics, and the compilation with them added.</summary>
    public static (GeneratorRunResult Run, Compilation Output) Run(string assemblyName, params string[] sources) =>
        Run(Compile(assemblyName, sources), withMemoryPack: true);

    /// <summary>The relay-state generator's result on <paramref name="compilation"/> (MemoryPack's generator runs too when asked), and the updated compilation.</summary>
    public static (GeneratorRunResult Run, Compilation Output) Run(Compilation compilation, bool withMemoryPack)
    {
        var (all, output) = RunAll(compilation, withMemoryPack);
        return (all.Results.Single(r => r.Generator.GetGeneratorType() == typeof(RelayStateGenerator)), output);
    }

    /// <summary>Every generator's result (and the updated compilation).</summary>
    public static (GeneratorDriverRunResult Run, Compilation Output) RunAll(Compilation compilation, bool withMemoryPack)
    {
        var result = Driver(withMemoryPack: withMemoryPack).RunGeneratorsAndUpdateCompilation(compilation, out var output, out _).GetRunResult();
        return (result, output);
    }

    /// <summary>Generates and compiles <paramref name="compilation"/>, failing on any error of a generator or the compiler; the image.</summary>
    public static byte[] Emit(Compilation compilation)
    {
        var (run, output) = RunAll(compilation, withMemoryPack: true);
        var errors = run.Diagnostics.Concat(output.GetDiagnostics()).Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, "compilation failed:\n" + string.Join("\n", errors));
        using var image = new MemoryStream();
        var emitted = output.Emit(image);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics));
        return image.ToArray();
    }

    /// <summary>Generates, compiles (failing on any error) and loads <paramref name="sources"/> into a load context of their own.</summary>
    public static Assembly CompileAndLoad(string assemblyName, params string[] sources)
    {
        var (run, output) = RunAll(Compile(assemblyName, sources), withMemoryPack: true);
        var errors = run.Diagnostics.Concat(output.GetDiagnostics()).Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, "compilation failed:\n" + string.Join("\n", errors));
        using var image = new MemoryStream();
        var emitted = output.Emit(image);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics));
        image.Position = 0;
        var context = new AssemblyLoadContext(assemblyName, isCollectible: true);
        // Aeterna.Runtime (and MemoryPack) are shared with the test, so both versions meet the same serializer types.
        context.Resolving += (_, name) => name.Name switch
        {
            "Aeterna.Runtime" => typeof(IRelayState).Assembly,
            "MemoryPack.Core" => typeof(MemoryPack.MemoryPackSerializer).Assembly,
            _ => null,
        };
        var assembly = context.LoadFromStream(image);
        RuntimeHelpers.RunModuleConstructor(assembly.ManifestModule.ModuleHandle);
        return assembly;
    }

    /// <summary>Calls a public static method of a type in a loaded test assembly.</summary>
    public static object? Call(Assembly assembly, string type, string method, params object?[] arguments) =>
        assembly.GetType(type, throwOnError: true)!.GetMethod(method)!.Invoke(null, arguments);
}
