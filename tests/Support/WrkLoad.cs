using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Aeterna.Tests.Support;

/// <summary>What wrk reported: requests sent, and every kind of failure it counts.</summary>
internal sealed record WrkResult(long Requests, long ConnectErrors, long ReadErrors, long WriteErrors, long Timeouts, long Non2xx, string Output)
{
    /// <summary>Requests were sent, and none failed in any way.</summary>
    public bool Clean => Requests > 0 && ConnectErrors + ReadErrors + WriteErrors + Timeouts + Non2xx == 0;

    public override string ToString() =>
        $"{Requests} requests; errors: connect {ConnectErrors}, read {ReadErrors}, write {WriteErrors}, timeout {Timeouts}; non-2xx {Non2xx}";
}

/// <summary>
/// Runs the real wrk (keep-alive HTTP/1.1 load) against a URL. A refused connection is a connect
/// error, a connection closed under a request a read error: both fail <see cref="WrkResult.Clean"/>.
/// </summary>
internal static partial class WrkLoad
{
    /// <summary>Runs wrk for <paramref name="duration"/> and returns what it reported.</summary>
    public static Task<WrkResult> RunAsync(string url, TimeSpan duration, int connections = 32) =>
        Start(url, connections, duration).CompletedAsync();

    /// <summary>Starts wrk for up to <paramref name="duration"/>: stop it with <see cref="RunningLoad.StopAsync"/>.
    /// The default, 10 minutes, is longer than any test runs and bounds the life of a wrk whose test
    /// host died without stopping it (it would load every test after it).</summary>
    public static RunningLoad Start(string url, int connections = 32, TimeSpan? duration = null)
    {
        var runFor = duration ?? DefaultDuration;
        // --timeout 10s: a request slower than that is a failure, not merely a slow one.
        var start = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-t", "2", "-c", connections.ToString(CultureInfo.InvariantCulture),
                     "-d", $"{(int)Math.Ceiling(runFor.TotalSeconds)}s", "--timeout", "10s", url })
            start.ArgumentList.Add(a);
        return new RunningLoad(Process.Start(start)!, runFor);
    }

    private static readonly TimeSpan DefaultDuration = TimeSpan.FromMinutes(10);

    /// <summary>A wrk process; its statistics come when it ends (at its duration, or on SIGINT).</summary>
    internal sealed class RunningLoad(Process process, TimeSpan runFor)
    {
        private readonly Task<string> _stdout = process.StandardOutput.ReadToEndAsync();
        private readonly Task<string> _stderr = process.StandardError.ReadToEndAsync();

        public bool HasExited => process.HasExited;

        /// <summary>SIGINT: wrk stops and prints what it measured so far.</summary>
        public Task<WrkResult> StopAsync()
        {
            if (!process.HasExited) Posix.Kill(process.Id, Posix.SIGINT);
            return CompletedAsync();
        }

        public async Task<WrkResult> CompletedAsync()
        {
            using var cts = new CancellationTokenSource(runFor + TimeSpan.FromMinutes(1));
            await process.WaitForExitAsync(cts.Token);
            string output = await _stdout + await _stderr;
            int code = process.ExitCode;
            process.Dispose();
            if (code != 0) throw new Xunit.Sdk.XunitException($"wrk exited {code}:\n{output}");
            return Parse(output);
        }
    }

    internal static WrkResult Parse(string output)
    {
        long requests = Number(RequestsPattern().Match(output), 1);
        var errors = SocketErrorsPattern().Match(output);
        return new WrkResult(requests, Number(errors, 1), Number(errors, 2), Number(errors, 3), Number(errors, 4),
            Number(Non2xxPattern().Match(output), 1), output);
    }

    private static long Number(Match m, int group) => m.Success ? long.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture) : 0;

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex RequestsPattern();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketErrorsPattern();

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex Non2xxPattern();
}
