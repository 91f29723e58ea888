using System.CommandLine;
using System.Text.Json;
using Aeterna.Tool.Control;
using Aeterna.Tool.Relay;

namespace Aeterna.Tool.Cli;

/// <summary>`rollback`: abandon the relay that is soaking; the old generation takes its state back and serves on.</summary>
internal static class RollbackCommand
{
    public static Command Create()
    {
        var config = AeternaCli.ConfigOption();
        var json = new Option<bool>("--json") { Description = "Print the relay report as JSON" };
        var command = new Command("rollback", "Roll back the relay that is soaking: the new generation hands its state back (or the old one resumes from its frozen state) and is retired; exit 0 when rolled back") { config, json };
        command.SetAction((parse, _) => RunAsync(parse.GetValue(config)!, parse.GetValue(json)));
        return command;
    }

    private static async Task<int> RunAsync(FileInfo configFile, bool json)
    {
        string? socket = ControlSession.LocateSocket(configFile, Console.Error, quietWhenInvalid: true);
        if (socket is null) return ExitCodes.InvalidInput;
        return await ControlSession.RunAsync(socket, new ControlRequest("rollback"), response =>
        {
            if (response.Report is not { } report) return null;
            if (json) Console.WriteLine(JsonSerializer.Serialize(response, ControlJson.Default.ControlResponse));
            else RelayCommand.PrintOutcome(report);
            return report.Outcome == RelayOutcome.RolledBack ? ExitCodes.Ok : ExitCodes.Refused;
        }, Console.Error);
    }
}
