using System.Globalization;
using Aeterna.Tool.Configuration;
using Aeterna.Tool.Processes;
using Aeterna.Tool.Supervision;

namespace Aeterna.Tool.Relay;

/// <summary>Step 6 of a relay: what fails the soak beyond the new generation's exit and watchdog.</summary>
internal interface ICanary
{
    /// <summary>Completes with the reason when the soak must fail; runs until <paramref name="cancel"/> otherwise.</summary>
    Task<string> WatchAsync(Generation next, AeternaConfig config, CancellationToken cancel);
}

/// <summary>
/// Watches the new generation itself during the soak, beyond its exit and its sd_notify watchdog:
/// <list type="bullet">
/// <item>its HEALTH reports (apps with an Aeterna session): unhealthy
/// <c>failure_threshold</c> times in a row, more than <c>max_error_rate</c> of its requests failing
/// once it has served <c>min_requests</c>, or silence for <c>health_timeout</c> after it began reporting;</item>
/// <item>the configured per-generation probe (apps without a session): <c>failure_threshold</c>
/// failures in a row.</item>
/// </list>
/// A probe through the shared listener could be answered by either generation, so none is used.
/// </summary>
internal sealed class CanaryWatch(CommandRunner commands) : ICanary
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    public async Task<string> WatchAsync(Generation next, AeternaConfig config, CancellationToken cancel)
    {
        var canary = config.Orchestration.Canary;
        var probe = canary.Probe is { } p ? ProbeAsync(next, p, canary.FailureThreshold, config, cancel) : null;
        var start = next.Health;
        while (true)
        {
            if (probe is { IsCompleted: true }) return await probe.ConfigureAwait(false);
            if (next.Health is { } health)
            {
                if (next.UnhealthyInARow >= canary.FailureThreshold)
                    return $"generation {next.Number} reported unhealthy {next.UnhealthyInARow} times in a row{(health.Detail is null ? "" : $": {health.Detail}")} (orchestration.canary.failure_threshold {canary.FailureThreshold})";
                long served = health.Requests - (start?.Requests ?? 0), failed = health.Errors - (start?.Errors ?? 0);
                if (served >= canary.MinRequests && served > 0 && (double)failed / served > canary.MaxErrorRate)
                    return $"generation {next.Number} failed {failed} of {served} requests ({Percent((double)failed / served)}) during the soak; orchestration.canary.max_error_rate is {Percent(canary.MaxErrorRate)}";
                var silent = System.Diagnostics.Stopwatch.GetElapsedTime(next.HealthTimestamp);
                if (silent > canary.HealthTimeout)
                    return $"generation {next.Number} sent no HEALTH for {silent.TotalSeconds:0.#} s (orchestration.canary.health_timeout {canary.HealthTimeout.TotalSeconds:0.#} s)";
            }
            await Task.Delay(Tick, cancel).ConfigureAwait(false);
        }
    }

    /// <summary>Runs the probe every interval; completes with the reason after <paramref name="threshold"/> failures in a row.</summary>
    private async Task<string> ProbeAsync(Generation next, ProbeConfig probe, int threshold, AeternaConfig config, CancellationToken cancel)
    {
        int failures = 0;
        while (true)
        {
            var result = await commands.RunAsync(Substitute(probe.Command, next), Environment(next, config), config.Service.WorkingDirectory, probe.Timeout, cancel).ConfigureAwait(false);
            failures = result.Ok ? 0 : failures + 1;
            if (failures >= threshold)
                return $"the probe of generation {next.Number} failed {failures} times in a row ({string.Join(' ', probe.Command)}: {result.Status}{(result.Output.Length > 0 ? $"; output: {result.Output.Trim()[^Math.Min(200, result.Output.Trim().Length)..]}" : "")})";
            await Task.Delay(probe.Interval, cancel).ConfigureAwait(false);
        }
    }

    /// <summary>${AETERNA_GENERATION} and ${AETERNA_PID} in the probe's words name the generation under test.</summary>
    internal static IReadOnlyList<string> Substitute(IReadOnlyList<string> words, Generation generation) =>
        words.Select(w => w.Replace("${AETERNA_GENERATION}", generation.Number.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("${AETERNA_PID}", generation.Pid.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)).ToList();

    private static List<string> Environment(Generation generation, AeternaConfig config)
    {
        var env = System.Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "");
        foreach (var (key, value) in config.Service.Environment) env[key] = value;
        env["AETERNA_GENERATION"] = generation.Number.ToString(CultureInfo.InvariantCulture);
        env["AETERNA_PID"] = generation.Pid.ToString(CultureInfo.InvariantCulture);
        return env.Select(kv => $"{kv.Key}={kv.Value}").ToList();
    }

    private static string Percent(double rate) => rate.ToString("0.#%", CultureInfo.InvariantCulture);
}
