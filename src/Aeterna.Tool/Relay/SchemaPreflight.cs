using System.Diagnostics;
using Aeterna.Tool.Configuration;

namespace Aeterna.Tool.Relay;

/// <summary>
/// The built-in pre-flight check "can the new build read the running state?": the running
/// generation's schema (from its session's HELLO) against the new build's
/// <c>&lt;assembly&gt;.relay.json</c>, found with state_handoff.manifest or beside the program or the
/// .dll the new command runs. An incompatible change refuses the relay before anything starts.
/// </summary>
internal static class SchemaPreflight
{
    public const string Name = "built-in: state schema compatible";

    /// <summary>The check's result; <paramref name="refusal"/> is set when it must refuse the relay.</summary>
    public static PreflightResult Check(string? runningSchema, AeternaConfig config, out string? refusal)
    {
        refusal = null;
        var started = Stopwatch.GetTimestamp();
        PreflightResult Result(bool ok, string status, string output = "") =>
            new(Name, ok, status, Stopwatch.GetElapsedTime(started).TotalMilliseconds, output);

        if (!config.Orchestration.StateHandoff.Enabled)
            return Result(true, "skipped: state_handoff.enabled is false");
        if (string.IsNullOrEmpty(runningSchema) || runningSchema.Contains("\"types\":[]", StringComparison.Ordinal))
            return Result(true, "skipped: the running generation reported no [RelayState] schema");
        var candidates = Candidates(config).ToList();
        string? manifest = candidates.FirstOrDefault(File.Exists);
        if (manifest is null)
            return Result(true, $"skipped: no relay manifest for the new build (looked for {string.Join(", ", candidates.DefaultIfEmpty("nothing: the command names no program or .dll"))}). Fix: build with Aeterna.Runtime, which writes it, or set state_handoff.manifest");

        IReadOnlyList<SchemaProblem> problems;
        try
        {
            problems = SchemaCompatibility.Compare(runningSchema, File.ReadAllText(manifest));
        }
        catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
        {
            refusal = $"pre-flight: the new build's relay manifest {manifest} cannot be used: {e.Message}";
            return Result(false, e.Message);
        }
        string details = string.Join('\n', problems.Select(p => (p.BlocksRelay ? "error: " : "warning: ") + p.Message));
        var blocking = problems.Where(p => p.BlocksRelay).ToList();
        if (blocking.Count > 0)
        {
            refusal = $"pre-flight: state schema ({manifest}): {string.Join(" ", blocking.Select(p => p.Message))}";
            return Result(false, $"{blocking.Count} incompatible change(s)", details);
        }
        return Result(true, problems.Count == 0 ? $"compatible ({manifest})" : $"compatible, {problems.Count} warning(s) ({manifest})", details);
    }

    /// <summary>Where the new build's manifest may be: the configured path, then beside the program and each .dll argument.</summary>
    private static IEnumerable<string> Candidates(AeternaConfig config)
    {
        string workDir = config.Service.WorkingDirectory;
        if (config.Orchestration.StateHandoff.Manifest is { } configured)
        {
            yield return configured;
            yield break;
        }
        var command = config.Service.Command;
        if (command[0].Contains('/'))
            yield return Path.GetFullPath(command[0], workDir) + ".relay.json";
        foreach (string argument in command.Skip(1))
            if (argument.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
                yield return Path.ChangeExtension(Path.GetFullPath(argument, workDir), ".relay.json");
    }
}
