using System.Diagnostics;
using System.IO.Compression;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Packaging;

/// <summary>The tool as users get it: packed, installed with `dotnet tool install`, run both ways.</summary>
public sealed class ToolPackageTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Packs_as_aeterna_and_runs_as_dotnet_aeterna_and_dotnet_dash_aeterna()
    {
        using var dir = new TempDirectory();
        string artifacts = dir.File("artifacts");
        await Run(Repo.Root, "dotnet", "pack", Path.Combine(Repo.Root, "src", "Aeterna.Tool"), "-c", Repo.Configuration, "--no-build", "-o", artifacts, "-nologo");
        string package = Directory.GetFiles(artifacts, "aeterna.*.nupkg").Single();

        using (var zip = ZipFile.OpenRead(package))
        {
            var entries = zip.Entries.Select(e => e.FullName).ToList();
            Assert.Contains("tools/net10.0/any/native/linux-x64/aeterna-exec", entries);
            Assert.Contains("tools/net10.0/any/dotnet-aeterna.dll", entries);
            Assert.Contains("aeterna.schema.json", entries); // for editors (docs/configuration.md, "Editors")
        }

        string version = Path.GetFileNameWithoutExtension(package)["aeterna.".Length..];
        // `dotnet aeterna` resolves through a tool manifest (or a global install); `dotnet-aeterna` through the tool path.
        await Run(dir.Path, "dotnet", "new", "tool-manifest");
        await Run(dir.Path, "dotnet", "tool", "install", "aeterna", "--add-source", artifacts, "--version", version);
        Assert.Contains("validate", await Run(dir.Path, "dotnet", "aeterna", "--help"));
        await Run(dir.Path, "dotnet", "tool", "install", "aeterna", "--tool-path", dir.File("tools"), "--add-source", artifacts, "--version", version);
        Assert.Contains(version, await Run(dir.Path, dir.File("tools/dotnet-aeterna"), "--version"));

        // The installed tool finds its exec shim and runs a real service.
        string config = new TestConfig { Command = ["sh", "-c", "echo LISTEN_PID=$LISTEN_PID pid=$$; sleep 60"], Port = FreePort.Get(), Readiness = "delay", Delay = "50ms" }.WriteTo(dir);
        var start = new ProcessStartInfo(dir.File("tools/dotnet-aeterna")) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "start", "-c", config }) start.ArgumentList.Add(a);
        using var supervisor = Process.Start(start)!;
        string line = (await supervisor.StandardOutput.ReadLineAsync())!;
        output.WriteLine(line);
        var parts = line.Split(' ');
        Assert.Equal(parts[0]["LISTEN_PID=".Length..], parts[1]["pid=".Length..]);
        Posix.Kill(supervisor.Id, Posix.SIGTERM);
        await supervisor.WaitForExitAsync();
    }

    private async Task<string> Run(string workingDirectory, string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        output.WriteLine($"$ {program} {string.Join(' ', args)}\n{await stdout}{await stderr}");
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}");
        return await stdout;
    }
}
