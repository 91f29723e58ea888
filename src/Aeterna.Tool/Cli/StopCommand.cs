using System.CommandLine;
using Aeterna.Tool.Control;

namespace Aeterna.Tool.Cli;

/// <summary>`stop`: stop the running supervisor gracefully (like SIGTERM).</summary>
internal static class StopCommand
{
    public static Command Create()
    {
        var config = AeternaCli.ConfigOption();
        var command = new Command("stop", "Stop the running supervisor and every generation gracefully (like SIGTERM)") { config };
        command.SetAction((parse, _) => RunAsync(parse.GetValue(config)!));
        return command;
    }

    private static async Task<int> RunAsync(FileInfo configFile)
    {
        string? socket = ControlSession.LocateSocket(configFile, Console.Error);
        if (socket is null) return ExitCodes.InvalidInput;
        return await ControlSession.RunAsync(socket, new ControlRequest("stop"), response =>
        {
            if (response.Type != ControlResponse.Ok) return null;
            Console.WriteLine("stopping: every generation drains, then the supervisor exits");
            return ExitCodes.Ok;
        }, Console.Error);
    }
}
