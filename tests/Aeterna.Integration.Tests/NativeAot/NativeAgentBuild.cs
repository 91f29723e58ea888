using System.Diagnostics;
using Aeterna.Tests.Support;

namespace Aeterna.Integration.Tests.NativeAot;

/// <summary>
/// The template's agent (tests/apps/TemplateAgent: templates/aeterna-agent's sources on this
/// repository's runtime) published once per test run with NativeAOT for linux-x64; a native
/// publish takes about a minute, so every test of the native agent shares this one.
/// </summary>
public sealed class NativeAgentBuild : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();

    public string Project { get; } = Path.Combine(Repo.Root, "tests", "apps", "TemplateAgent");

    public string PublishDirectory => _directory.File("publish");

    /// <summary>The native executable.</summary>
    public string Binary => Path.Combine(PublishDirectory, "TemplateAgent");

    public int ExitCode { get; private set; }

    /// <summary>Everything `dotnet publish` printed.</summary>
    public string Output { get; private set; } = "";

    /// <summary>The trim, AOT and other warnings of the publish, one per line.</summary>
    public IReadOnlyList<string> Warnings => [.. Output.Split('\n').Where(l => l.Contains(": warning ", StringComparison.OrdinalIgnoreCase)).Distinct()];

    public TimeSpan Took { get; private set; }

    public async Task InitializeAsync()
    {
        var clock = Stopwatch.StartNew();
        var start = new ProcessStartInfo("dotnet", ["publish", Project, "-c", Repo.Configuration, "-r", "linux-x64", "-p:PublishAot=true", "-o", PublishDirectory, "-nologo"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await process.WaitForExitAsync(timeout.Token);
        ExitCode = process.ExitCode;
        Output = await stdout + await stderr;
        Took = clock.Elapsed;
    }

    /// <summary>Fails with the publish's output unless it made a native binary.</summary>
    public void AssertPublished() =>
        Assert.True(ExitCode == 0 && File.Exists(Binary), $"dotnet publish -p:PublishAot=true exited {ExitCode}:\n{Output}");

    public Task DisposeAsync()
    {
        _directory.Dispose();
        return Task.CompletedTask;
    }
}
