using System.Xml.Linq;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Templates.Tests;

/// <summary>
/// `dotnet new aeterna-agent --aot`: the project publishes with NativeAOT and its Dockerfile
/// builds a native image (runtime-deps base, no .NET runtime), and everything else is what the
/// JIT project has. The native publish of the agent itself, and its relays, are
/// Aeterna.Integration.Tests' NativeAgentTests (the template's sources, one NativeAOT publish per
/// run: it takes minutes); here the project builds with the trim and AOT analyzers on and no
/// warning, against the packed runtime.
/// </summary>
[Collection(TemplateTests.Name)]
public sealed class NativeAgentTemplateTests(AgentTemplate template, ITestOutputHelper output)
{
    [Fact]
    public async Task Aot_project_publishes_native_and_its_image_has_no_dotnet_runtime()
    {
        string jit = Path.Combine(template.Root, "aot-check-jit");
        string aot = Path.Combine(template.Root, "aot-check");
        await template.NewAsync("NativeAgent", jit);
        await template.NewAsync("NativeAgent", aot, "--aot");

        // The project file: PublishAot, and nothing else changed.
        var property = XDocument.Load(Path.Combine(aot, "NativeAgent.csproj")).Descendants("PublishAot").SingleOrDefault();
        Assert.Equal("true", property?.Value);
        Assert.Empty(XDocument.Load(Path.Combine(jit, "NativeAgent.csproj")).Descendants("PublishAot"));

        // The Dockerfile: a native publish in the AOT SDK image, a runtime-deps image with the native supervisor.
        var dockerfile = Dockerfile.Parse(File.ReadAllText(Path.Combine(aot, "Dockerfile")));
        Assert.Equal(2, dockerfile.Stages.Count);
        var (build, final) = (dockerfile.Stages[0], dockerfile.Stages[1]);
        Assert.Equal("mcr.microsoft.com/dotnet/sdk:10.0-noble-aot", build.BaseImage);
        Assert.Equal("mcr.microsoft.com/dotnet/runtime-deps:10.0", final.BaseImage);
        var runs = build.All("RUN").Select(r => r.Arguments).ToList();
        Assert.Contains(runs, r => r.StartsWith("dotnet restore --use-current-runtime", StringComparison.Ordinal));
        Assert.Contains(runs, r => r.StartsWith("dotnet publish --no-restore --use-current-runtime -c Release -o /out/app/releases/image", StringComparison.Ordinal));
        // The supervisor: the native executable of the tool package, or no image at all.
        Assert.Contains(runs, r => r.Contains("dotnet tool install aeterna") && r.Contains("dotnet-aeterna.dll\" ]; then") && r.Contains("exit 1"));
        Assert.Equal(["/opt/aeterna/dotnet-aeterna", "start", "-c", "/app/aeterna.yaml"], final.Last("ENTRYPOINT")!.ExecForm());
        Assert.DoesNotContain(final.All("RUN"), _ => true);   // nothing runs in the final stage: it has no dotnet to run
        // The container's config runs the native executable; rollout.sh wants one.
        Assert.Contains("command: [\"./NativeAgent\"]", File.ReadAllText(Path.Combine(aot, "deploy", "aeterna.yaml")));
        Assert.Contains("[ ! -x \"$build/NativeAgent\" ]", File.ReadAllText(Path.Combine(aot, "deploy", "rollout.sh")));
        Assert.Contains("## Native (NativeAOT)", File.ReadAllText(Path.Combine(aot, "README.md")));

        // Every other file is the JIT project's.
        string[] differ = ["NativeAgent.csproj", "Dockerfile", "README.md", "deploy/aeterna.yaml", "deploy/rollout.sh"];
        var files = Files(aot);
        Assert.Equal(Files(jit), files);
        foreach (var file in files.Except(differ))
            Assert.True(File.ReadAllText(Path.Combine(aot, file)) == File.ReadAllText(Path.Combine(jit, file)), $"--aot changed {file}");

        // The build runs the trim and AOT analyzers (PublishAot): no warning. The compiler's packages
        // come from the machine's feed, Aeterna's from the packed folder alone.
        File.WriteAllText(Path.Combine(aot, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="artifacts" value="{template.Artifacts}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="artifacts"><package pattern="Aeterna.*" /><package pattern="aeterna" /></packageSource>
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        string built = await template.RunAsync(aot, "dotnet", "build", "-warnaserror", "-nologo");
        output.WriteLine(built);
        Assert.True(File.Exists(Path.Combine(aot, "bin", "Debug", "net10.0", "NativeAgent.dll")));
    }

    private static List<string> Files(string root) =>
        [.. Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f))
            .Where(f => !f.StartsWith("bin/", StringComparison.Ordinal) && !f.StartsWith("obj/", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
}
