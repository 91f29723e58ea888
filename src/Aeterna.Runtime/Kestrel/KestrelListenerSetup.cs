using System.Net;
using Aeterna.Addresses;
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
internal sealed class KestrelListenerSetup : IConfigureOptions<KestrelServerOptions>
{
    private const int SOCK_STREAM = 1;

    public void Configure(KestrelServerOptions options)
    {
        var inherited = InheritedListeners.ByName.OrderBy(l => l.Value).ToList();
        if (inherited.Count > 0)
        {
            foreach (var (_, fd) in inherited)
                if (Libc.SocketType(fd) == SOCK_STREAM) options.ListenHandle((ulong)fd);
            return;
        }
        foreach (string name in RelayListeners.Names)
        {
            if (!RelayListeners.TryGetDeclaredAddress(name, out var address)) continue;
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
