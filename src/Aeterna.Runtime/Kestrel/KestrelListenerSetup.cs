using System.Net;
using Aeterna.Addresses;
using Aeterna.Connections;
using Aeterna.Interop;
using Aeterna.Listeners;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace Aeterna.Kestrel;

/// <summary>
/// Points Kestrel at the app's listeners: every inherited stream socket (socket activation, as
/// UseSystemd() would, but by name and without needing systemd), or standalone the listeners the
/// app declared. With neither, Kestrel's own configuration (ASPNETCORE_URLS, …) applies.
/// </summary>
/// <remarks>Listeners of handed-connection endpoints are the runtime's own (<see cref="ConnectionListeners"/>), not Kestrel's.</remarks>
internal sealed class KestrelListenerSetup(IEnumerable<ConnectionEndpoint> endpoints) : IConfigureOptions<KestrelServerOptions>
{
    private const int SOCK_STREAM = 1;

    public void Configure(KestrelServerOptions options)
    {
        var claimed = endpoints.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        var inherited = InheritedListeners.ByName.OrderBy(l => l.Value).ToList();
        if (inherited.Count > 0)
        {
            foreach (var (name, fd) in inherited)
                if (Libc.SocketType(fd) == SOCK_STREAM && !claimed.Contains(name)) options.ListenHandle((ulong)fd);
            return;
        }
        foreach (string name in RelayListeners.Names)
        {
            if (claimed.Contains(name) || !RelayListeners.TryGetDeclaredAddress(name, out var address)) continue;
            switch (address.Kind)
            {
                case ListenerKind.Tcp:
                    options.Listen(IPAddress.TryParse(address.Host, out var ip) ? ip : IPAddress.Any, address.Port);
                    break;
                case ListenerKind.Unix:
                    ListenerSockets.RemoveStaleSocket(address.Path!);
                    options.ListenUnixSocket(address.Path!);
                    break;
            }
        }
    }
}
