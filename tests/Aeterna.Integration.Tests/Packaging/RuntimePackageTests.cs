using System.Diagnostics;
using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Aeterna.Tests.Support;

namespace Aeterna.Integration.Tests.Packaging;

/// <summary>
/// Packs Aeterna.Runtime (from the build this test ran after) and inspects it: one package holds
/// the library, the generator and the build targets, and the generator references a Roslyn old
/// enough for the .NET 8 SDK (a newer one fails to load with CS9057 and silently generates nothing).
/// </summary>
public sealed class RuntimePackageTests : IDisposable
{
    /// <summary>Microsoft.CodeAnalysis of the .NET 8.0.1xx SDK, the oldest the package supports.</summary>
    private static readonly Version OldestSupportedRoslyn = new(4, 8, 0, 0);

    private readonly string _directory = Directory.CreateTempSubdirectory("aeterna-pack-").FullName;

    [Fact]
    public void The_runtime_package_brings_library_generator_and_build_targets()
    {
        using var package = ZipFile.OpenRead(Pack());
        var entries = package.Entries.Select(e => e.FullName).ToHashSet();
        Assert.Contains("lib/net10.0/Aeterna.Runtime.dll", entries);
        Assert.Contains("analyzers/dotnet/cs/Aeterna.Generators.dll", entries);
        Assert.Contains("build/Aeterna.Runtime.targets", entries);
        Assert.Contains("buildTransitive/Aeterna.Runtime.targets", entries);
        Assert.Contains("tasks/net8.0/Aeterna.Build.dll", entries);
        Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal) && e.Contains("Generators"));
        Assert.DoesNotContain(entries, e => e.Contains("Microsoft.CodeAnalysis", StringComparison.Ordinal));

        // MemoryPack members are MemoryPack calls in the app's generated code: the runtime neither
        // depends on MemoryPack nor references it, so apps that do not use it never carry it.
        using (var nuspec = new StreamReader(package.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open()))
            Assert.DoesNotContain("MemoryPack", nuspec.ReadToEnd(), StringComparison.OrdinalIgnoreCase);
        using (var library = new MemoryStream())
        {
            using (var entry = package.GetEntry("lib/net10.0/Aeterna.Runtime.dll")!.Open()) entry.CopyTo(library);
            library.Position = 0;
            using var runtime = new PEReader(library);
            var references = runtime.GetMetadataReader();
            Assert.DoesNotContain(references.AssemblyReferences.Select(references.GetAssemblyReference), r => references.GetString(r.Name).StartsWith("MemoryPack", StringComparison.Ordinal));
        }

        using var generator = new MemoryStream();
        using (var entry = package.GetEntry("analyzers/dotnet/cs/Aeterna.Generators.dll")!.Open()) entry.CopyTo(generator);
        generator.Position = 0;
        using var pe = new PEReader(generator);
        var metadata = pe.GetMetadataReader();
        var roslyn = metadata.AssemblyReferences.Select(metadata.GetAssemblyReference)
            .Where(r => metadata.GetString(r.Name).StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal))
            .ToList();
        Assert.NotEmpty(roslyn);
        Assert.All(roslyn, r => Assert.True(r.Version <= OldestSupportedRoslyn,
            $"the generator references {metadata.GetString(r.Name)} {r.Version}; the .NET 8 SDK has {OldestSupportedRoslyn}"));
        Assert.Contains(metadata.AssemblyReferences.Select(metadata.GetAssemblyReference), r => metadata.GetString(r.Name) == "netstandard");
    }

    private string Pack()
    {
        // The test binaries sit in bin/<Configuration>/<tfm>/: pack that configuration's build.
        string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        var start = new ProcessStartInfo("dotnet", ["pack", Path.Combine(Repo.Root, "src", "Aeterna.Runtime"), "-c", configuration, "--no-build", "-o", _directory, "-nologo"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, "dotnet pack failed:\n" + output);
        return Directory.GetFiles(_directory, "Aeterna.Runtime.*.nupkg").Single();
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
