using Aeterna.Tool.Configuration;
using Aeterna.Tool.Control;

namespace Aeterna.Tool.Cli;

/// <summary>Shared by relay, status and stop: find the supervisor of a config and talk to it.</summary>
internal static class ControlSession
{
    /// <summary>
    /// The control socket of the supervisor started with <paramref name="configFile"/>. An invalid
    /// config still names its socket when it parses as YAML, so that `status` and `stop` work while
    /// the file is being edited: the errors are printed as a warning then. Null (errors printed)
    /// when the file can't be read that far.
    /// </summary>
    public static string? LocateSocket(FileInfo configFile, TextWriter errors, bool quietWhenInvalid = false)
    {
        var loaded = ConfigLoader.Load(configFile.FullName);
        if (loaded.Success) return loaded.Config!.Control.SocketPath;
        if (loaded.ControlSocketPath is null || !quietWhenInvalid)
            foreach (var error in loaded.Errors) errors.WriteLine(error);
        if (loaded.ControlSocketPath is not null && !quietWhenInvalid)
            errors.WriteLine($"warning: {configFile.Name} has {loaded.Errors.Count} error(s) (a relay would be refused); the running supervisor keeps the config it was started or last relayed with.");
        return loaded.ControlSocketPath;
    }

    /// <summary>Sends a request and hands each response to <paramref name="onResponse"/>; returns an exit code.</summary>
    public static async Task<int> RunAsync(string socket, ControlRequest request, Func<ControlResponse, int?> onResponse, TextWriter errors)
    {
        try
        {
            int? result = null;
            await foreach (var response in ControlClient.SendAsync(socket, request))
            {
                if (response.Type == ControlResponse.Failed)
                {
                    errors.WriteLine($"error: {response.Error}");
                    return ExitCodes.Refused;
                }
                result = onResponse(response) ?? result;
            }
            if (result is null)
                errors.WriteLine("error: the supervisor closed the connection without an answer (it may be stopping)");
            return result ?? ExitCodes.Unreachable;
        }
        catch (SupervisorUnreachableException e)
        {
            errors.WriteLine($"error: {e.Message}");
            return ExitCodes.Unreachable;
        }
        catch (IOException e)
        {
            errors.WriteLine($"error: lost the connection to the supervisor: {e.Message}");
            return ExitCodes.Unreachable;
        }
    }
}
