using Aeterna.Addresses;
using System.Net.Sockets;
using Aeterna.Tool.Configuration;

namespace Aeterna.Tool.Sockets;

/// <summary>A listening socket the supervisor holds for its whole life and hands to every generation.</summary>
internal sealed record BoundListener(ListenerConfig Config, Socket Socket, long Inode)
{
    public int Fd => (int)Socket.SafeHandle.DangerousGetHandle();

    public string Name => Config.Name;

    /// <summary>The address actually bound (a port 0 in the config shows the port the kernel chose).</summary>
    public string BoundAddress => Config.Kind switch
    {
        ListenerKind.Unix => $"unix://{Config.Path}",
        var kind => $"{kind.ToString().ToLowerInvariant()}://{Socket.LocalEndPoint}",
    };
}
