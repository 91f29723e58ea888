using System.ComponentModel;
using System.Net.Sockets;
using Aeterna.Addresses;
using Aeterna.Listeners;

namespace Aeterna;

/// <summary>
/// The app's listening sockets by name: the socket the supervisor holds and passed down
/// (socket activation), or, standalone, one the app binds itself at the declared address.
/// </summary>
public static class RelayListeners
{
    private static readonly Lock s_gate = new();
    private static readonly Dictionary<string, string> s_declared = new(StringComparer.Ordinal);
    private static readonly Dictionary<string, Socket> s_open = new(StringComparer.Ordinal);

    /// <summary>Declares where <paramref name="name"/> listens when there is no supervisor. Generated code calls this for <see cref="RelayListenerAttribute"/>.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static void Declare(string name, string address)
    {
        if (!ListenerAddress.TryParse(address, out _, out string? message, out string? fix))
            throw new ArgumentException($"listener '{name}': {message} {fix}", nameof(address));
        lock (s_gate) s_declared[name] = address;
    }

    /// <summary>Names of every listener: inherited ones first (in fd order), then declared ones.</summary>
    public static IReadOnlyList<string> Names
    {
        get
        {
            lock (s_gate)
                return [.. InheritedListeners.ByName.OrderBy(l => l.Value).Select(l => l.Key), .. s_declared.Keys.Where(n => !InheritedListeners.ByName.ContainsKey(n))];
        }
    }

    /// <summary>The address <paramref name="name"/> was declared with (for binding it standalone).</summary>
    internal static bool TryGetDeclaredAddress(string name, out ListenerAddress address)
    {
        address = default;
        string? text;
        lock (s_gate)
            if (!s_declared.TryGetValue(name, out text)) return false;
        return ListenerAddress.TryParse(text, out address, out _, out _);
    }

    /// <summary>Whether <paramref name="name"/> came from the supervisor (as opposed to being bound here).</summary>
    public static bool IsInherited(string name) => InheritedListeners.ByName.ContainsKey(name);

    /// <summary>
    /// The listening socket called <paramref name="name"/>; the same instance on every call.
    /// Throws <see cref="InvalidOperationException"/> naming the fix when there is none.
    /// </summary>
    public static Socket Get(string name)
    {
        lock (s_gate)
        {
            if (s_open.TryGetValue(name, out var open)) return open;
            Socket socket;
            if (InheritedListeners.ByName.TryGetValue(name, out int fd))
                socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
            else if (s_declared.TryGetValue(name, out string? address))
            {
                ListenerAddress.TryParse(address, out var parsed, out _, out _);
                try { socket = ListenerSockets.Bind(parsed, backlog: 4096); }
                catch (SocketException e)
                {
                    throw new InvalidOperationException($"cannot bind listener '{name}' at {address}: {e.Message}. Fix: free the address or declare another one.", e);
                }
            }
            else
            {
                string known = Names.Count == 0 ? "none" : string.Join(", ", Names);
                throw new InvalidOperationException($"there is no listener '{name}' (known: {known}). Fix: add it to listeners: in aeterna.yaml, or declare it with [assembly: RelayListener(\"{name}\", \"tcp://0.0.0.0:8080\")].");
            }
            s_open[name] = socket;
            return socket;
        }
    }
}
