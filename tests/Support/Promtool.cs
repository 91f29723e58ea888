using System.Diagnostics;

namespace Aeterna.Tests.Support;

/// <summary>Debian's promtool (package prometheus, installed by test.sh): the reference parser and linter of the text format.</summary>
internal static class Promtool
{
    /// <summary>`promtool check metrics` on <paramref name="exposition"/> (stdin); its exit code and everything it said.</summary>
    public static async Task<(int Code, string Output)> CheckMetricsAsync(string exposition)
    {
        if (!File.Exists("/usr/bin/promtool"))
            throw new Xunit.Sdk.XunitException("promtool is missing: install the Debian package 'prometheus' (test.sh does)");
        var start = new ProcessStartInfo("/usr/bin/promtool") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("check");
        start.ArgumentList.Add("metrics");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(exposition);
        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, (await stdout + await stderr).Trim());
    }

    /// <summary>Fails the test unless promtool accepts <paramref name="exposition"/> without a single complaint.</summary>
    public static async Task AssertValidAsync(string exposition)
    {
        var (code, output) = await CheckMetricsAsync(exposition);
        Xunit.Assert.True(code == 0 && output.Length == 0, $"promtool check metrics exited {code}: {output}\n--- exposition:\n{exposition}");
    }
}
