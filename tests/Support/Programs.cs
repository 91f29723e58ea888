using System.Diagnostics;

namespace Aeterna.Tests.Support;

/// <summary>Other programs the tests drive: found on PATH, run to their end with their output captured.</summary>
internal static class Programs
{
    /// <summary>The full path of <paramref name="name"/> on PATH, or null.</summary>
    public static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    /// <summary>The full path of <paramref name="name"/>; fails the test, naming the Debian package to install, when it is missing.</summary>
    public static string Require(string name, string debianPackage) =>
        Find(name) ?? throw new Xunit.Sdk.XunitException($"{name} is missing: install the Debian package '{debianPackage}' (test.sh does)");

    /// <summary>Runs <paramref name="program"/> to its end (killed after <paramref name="timeout"/>); its exit code and stdout then stderr.</summary>
    public static async Task<(int Code, string Output)> RunAsync(string program, IEnumerable<string> arguments, TimeSpan timeout, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null) start.WorkingDirectory = workingDirectory;
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            return (-1, $"{program} {string.Join(' ', arguments)}: killed after {timeout}\n{await stdout}{await stderr}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
