using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Aeterna.Tool.Control;

/// <summary>The CLI's side of the control socket: send one request, read response lines until the supervisor closes.</summary>
internal static class ControlClient
{
    public static async IAsyncEnumerable<ControlResponse> SendAsync(string socketPath, ControlRequest request)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.ConnectionRefused or SocketError.AccessDenied || !File.Exists(socketPath))
        {
            string why = e.SocketErrorCode == SocketError.AccessDenied
                ? "permission denied (the supervisor runs as another user; run this command as that user or root)"
                : File.Exists(socketPath) ? "nothing answers on it (a supervisor died without removing it)" : "it does not exist";
            throw new SupervisorUnreachableException($"cannot reach the supervisor: control socket {socketPath}: {why}. Fix: start one with 'dotnet aeterna start -c <config>', or point -c at the config it was started with");
        }
        using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(request, ControlJson.Default.ControlRequest) + "\n"));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0) continue;
            yield return JsonSerializer.Deserialize(line, ControlJson.Default.ControlResponse)
                ?? throw new InvalidDataException("empty response from the supervisor");
        }
    }
}

internal sealed class SupervisorUnreachableException(string message) : Exception(message);
