using System.CommandLine;
using Aeterna.Tool.Configuration;
using Aeterna.Tool.Control;
using Aeterna.Tool.Logging;
using Aeterna.Tool.Observability;
using Aeterna.Tool.Processes;
using Aeterna.Tool.Sockets;
using Aeterna.Tool.Supervision;

namespace Aeterna.Tool.Cli;

/// <summary>`start`: run the supervisor in the foreground (the container entrypoint).</summary>
internal static class StartCommand
{
    public static Command Create()
    {
        var config = AeternaCli.ConfigOption();
        var command = new Command("start", "Run the supervisor in the foreground (the container's entrypoint); exits with the active generation's exit code") { config };
        command.SetAction((parse, _) => RunAsync(parse.GetValue(config)!));
        return command;
    }

    // Deliberately no System.Console here: see EventLog and ChildReaper.
    private static async Task<int> RunAsync(FileInfo configFile)
    {
        var loaded = ConfigLoader.Load(configFile.FullName);
        if (!loaded.Success)
        {
            var log = new EventLog(LogFormat.Text, Configuration.LogLevel.Info);
            foreach (var error in loaded.Errors)
                log.Error("config.invalid", error.ToString());
            return ExitCodes.InvalidInput;
        }
        var config = loaded.Config!;
        var events = new EventLog(config.Observability.LogFormat, config.Observability.LogLevel);
        try
        {
            return await new Supervisor(config, events).RunAsync();
        }
        catch (Exception e) when (e is ListenerBindException or ControlSocketInUseException or ObservabilityStartException or SpawnException or IOException or UnauthorizedAccessException)
        {
            events.Error("supervisor.failed", $"cannot start: {e.Message}");
            return ExitCodes.StartFailed;
        }
    }
}
