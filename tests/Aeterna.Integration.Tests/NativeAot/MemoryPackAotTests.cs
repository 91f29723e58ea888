using System.Diagnostics;
using System.Text.Json;
using Aeterna.Tests.Support;

namespace Aeterna.Integration.Tests.NativeAot;

/// <summary>
/// tests/apps/MemoryPackAotApp (relay state with MemoryPack members) published with NativeAOT: no
/// trim or AOT warning, and the native binary relays its state to a fresh native process (which
/// never touched a MemoryPack type before reading, so only the formatters the generated module
/// initializer registered can read it) and to the JIT build of the same app.
/// </summary>
[Collection(NativeBuilds.Name)]
public sealed class MemoryPackAotTests : IDisposable
{
    private const string Expected = "owner=Ada tags=math/Curious scores=chess:3 home=51.5/-0.1 team=Grace where=1/2 shape=circle 2.5 history=hello|café ☕ turns=42";

    private readonly TempDirectory _directory = new();

    [Fact]
    public async Task Publishes_native_without_warnings_and_relays_its_state()
    {
        string project = Path.Combine(Repo.Root, "tests", "apps", "MemoryPackAotApp");
        string publish = _directory.File("publish");
        var (code, output) = await RunAsync("dotnet", ["publish", project, "-c", Repo.Configuration, "-r", "linux-x64", "-p:PublishAot=true", "-o", publish, "-nologo"]);
        Assert.True(code == 0, "dotnet publish failed:\n" + output);
        var warnings = output.Split('\n').Where(line => line.Contains(": warning ", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.True(warnings.Count == 0, "the NativeAOT publish warned:\n" + string.Join("\n", warnings));

        string native = Path.Combine(publish, "MemoryPackAotApp");
        string state = _directory.File("state.bin");
        var export = await RunAsync(native, ["export", state]);
        Assert.True(export.Code == 0, export.Output);
        Assert.Equal(Expected, export.Output.Trim());

        var import = await RunAsync(native, ["import", state]);
        Assert.True(import.Code == 0, import.Output);
        Assert.Equal(Expected, import.Output.Trim());

        // The JIT build of the same app (publish leaves it in bin/) reads what the native one wrote.
        string jit = Path.Combine(project, "bin", Repo.Configuration, "net10.0", "linux-x64", "MemoryPackAotApp.dll");
        var jitImport = await RunAsync("dotnet", [jit, "import", state]);
        Assert.True(jitImport.Code == 0, jitImport.Output);
        Assert.Equal(Expected, jitImport.Output.Trim());

        // The manifest beside the binary (and the one the binary reports) describes the MemoryPack members.
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(publish, "MemoryPackAotApp.relay.json")));
        var owner = manifest.RootElement.GetProperty("types")[0].GetProperty("members").EnumerateArray().Single(m => m.GetProperty("key").GetString() == "owner");
        Assert.Equal("memorypack<MemoryPackAotApp.Profile>", owner.GetProperty("wire").GetString());
        Assert.Contains(owner.GetProperty("memorypack").EnumerateArray(), l => l.GetProperty("name").GetString() == "MemoryPackAotApp.Tag" && l.GetProperty("mode").GetString() == "versionTolerant");
        var schema = await RunAsync(native, ["schema"]);
        Assert.Contains("\"memorypack<MemoryPackAotApp.Profile>\"", schema.Output);
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, string[] arguments)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    public void Dispose() => _directory.Dispose();
}
