using System.Diagnostics;
using Aeterna.Tool.Configuration;
using Aeterna.Tool.Processes;

namespace Aeterna.Tool.Relay;

/// <summary>Step 2 of a relay: checks that refuse it before anything is started.</summary>
internal interface IPreflight
{
    /// <summary>
    /// Runs every check, recording each in <paramref name="results"/>; throws
    /// <see cref="RelayFailedException"/> (Refused) at the first failure.
    /// <paramref name="runningSchema"/> is the running generation's state schema, if it sent one.
    /// </summary>
    Task RunAsync(AeternaConfig config, string? runningSchema, List<PreflightResult> results, CancellationToken cancel);
}

/// <summary>
/// The built-in checks, then the configured pre-flight commands, each with a timeout.
/// </summary>
internal sealed class PreflightRunner(CommandRunner commands) : IPreflight
{
    public async Task RunAsync(AeternaConfig config, string? runningSchema, List<PreflightResult> results, CancellationToken cancel)
    {
        var started = Stopwatch.GetTimestamp();
        string? problem = CommandResolver.Problem(config.Service.Command[0], config.Service.WorkingDirectory, PathOf(config));
        results.Add(new PreflightResult($"built-in: '{config.Service.Command[0]}' is executable", problem is null,
            problem ?? "ok", Stopwatch.GetElapsedTime(started).TotalMilliseconds, ""));
        if (problem is not null)
            throw new RelayFailedException(RelayOutcome.Refused, $"pre-flight: {problem}");

        results.Add(SchemaPreflight.Check(runningSchema, config, out string? refusal));
        if (refusal is not null)
            throw new RelayFailedException(RelayOutcome.Refused, refusal);

        foreach (var check in config.Orchestration.Preflight)
        {
            var result = await RunOneAsync(check, config, cancel);
            results.Add(result);
            if (!result.Ok)
                throw new RelayFailedException(RelayOutcome.Refused, $"pre-flight command '{result.Command}' failed: {result.Status}");
        }
    }

    private async Task<PreflightResult> RunOneAsync(PreflightCommand check, AeternaConfig config, CancellationToken cancel)
    {
        string commandLine = string.Join(' ', check.Command);
        string? problem = CommandResolver.Problem(check.Command[0], config.Service.WorkingDirectory, PathOf(config));
        if (problem is not null)
            return new PreflightResult(commandLine, false, problem, 0, "");
        var env = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "");
        foreach (var (key, value) in config.Service.Environment) env[key] = value;
        env["AETERNA_PREFLIGHT"] = "1";
        var result = await commands.RunAsync(check.Command, env.Select(kv => $"{kv.Key}={kv.Value}").ToArray(), config.Service.WorkingDirectory, check.Timeout, cancel);
        return new PreflightResult(commandLine, result.Ok, result.Status, result.Milliseconds, result.Output);
    }

    private static string PathOf(AeternaConfig config) =>
        config.Service.Environment.LastOrDefault(e => e.Key == "PATH").Value
        ?? Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
}
