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
    private static readonly Lazy<ImmutableArray<MetadataReference>> s_references = new(() =>
    [
        .. ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => Path.GetFileName(path).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(path) is "mscorlib.dll" or "netstandard.dll")
            .Select(path => MetadataReference.CreateFromFile(path)),
        MetadataReference.CreateFromFile(typeof(IRelayState).Assembly.Location),
    ]);

    public static CSharpParseOptions ParseOptions { get; } = new(LanguageVersion.CSharp12);

    public static CSharpCompilation Compile(string assemblyName, params string[] sources) =>
        CSharpCompilation.Create(assemblyName,
            sources.Select((source, i) => CSharpSyntaxTree.ParseText(source, ParseOptions, path: $"Source{i}.cs")),
            s_references.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: true));

    public static GeneratorDriver Driver(bool trackSteps = false) =>
        CSharpGeneratorDriver.Create([new RelayStateGenerator().AsSourceGenerator()], parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

    /// <summary>The generator's result on <paramref name="sources"/>: generated files and diagnostics, and the compilation with them added.</summary>
    public static (GeneratorRunResult Run, Compilation Output) Run(string assemblyName, params string[] sources)
    {
        var driver = Driver().RunGeneratorsAndUpdateCompilation(Compile(assemblyName, sources), out var output, out _);
        return (driver.GetRunResult().Results.Single(), output);
    }

    /// <summary>Generates, compiles (failing on any error) and loads <paramref name="sources"/> into a load context of their own.</summary>
    public static Assembly CompileAndLoad(string assemblyName, params string[] sources)
    {
        var (run, output) = Run(assemblyName, sources);
        var errors = run.Diagnostics.Concat(output.GetDiagnostics()).Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, "compilation failed:\n" + string.Join("\n", errors));
        using var image = new MemoryStream();
        var emitted = output.Emit(image);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics));
        image.Position = 0;
        var context = new AssemblyLoadContext(assemblyName, isCollectible: true);
        // Aeterna.Runtime is shared with the test, so both versions meet the same RelaySerializer types.
        context.Resolving += (_, name) => name.Name == "Aeterna.Runtime" ? typeof(IRelayState).Assembly : null;
        var assembly = context.LoadFromStream(image);
        RuntimeHelpers.RunModuleConstructor(assembly.ManifestModule.ModuleHandle);
        return assembly;
    }

    /// <summary>Calls a public static method of a type in a loaded test assembly.</summary>
    public static object? Call(Assembly assembly, string type, string method, params object?[] arguments) =>
        assembly.GetType(type, throwOnError: true)!.GetMethod(method)!.Invoke(null, arguments);
}
