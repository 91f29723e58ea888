using Aeterna.Tool.Configuration;
using Aeterna.Tool.Control;

namespace Aeterna.Tool.Cli;

/// <summary>Shared by relay, status and stop: find the supervisor of a config and talk to it.</summary>
internal static class ControlSession
{
    /// <summary>
    /// The control socket of the supervisor started with <paramref name="configFile"/>. An invalid
    /// config still names its socket when the loader could read that far (so that `status` and
    /// `stop` work while the file is being edited); otherwise the errors are printed.
    /// </summary>
    public static string? LocateSocket(FileInfo configFile, TextWriter errors)
    {
        var loaded = ConfigLoader.Load(configFile.FullName);
        if (loaded.Success) return loaded.Config!.Control.SocketPath;
        foreach (var error in loaded.Errors) errors.WriteLine(error);
        return null;
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
