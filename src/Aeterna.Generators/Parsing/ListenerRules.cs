using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Aeterna.Generators.Parsing;

/// <summary>
/// Compile-time checks of [assembly: RelayListener] names and addresses: the same rules as the
/// runtime's ListenerAddress parser (which checks again at start-up), so a typo fails the build.
/// </summary>
internal static class ListenerRules
{
    private const int MaxUnixPathBytes = 107;

    /// <summary>Names travel in LISTEN_FDNAMES (colon-separated, at most 255 printable ASCII characters each).</summary>
    public static bool IsValidName(string name, out string? problem, out string? fix)
    {
        problem = fix = null;
        if (name.Length == 0) (problem, fix) = ("it is empty.", "Name the listener, e.g. \"http\".");
        else if (name.Length > 255) (problem, fix) = ("it is longer than 255 characters.", "Use a shorter name.");
        else if (name.Contains(':')) (problem, fix) = ("it contains ':', which separates names in LISTEN_FDNAMES.", "Use letters, digits, '-' or '_'.");
        else if (name.Any(c => c <= ' ' || c > '~')) (problem, fix) = ("it contains spaces, control or non-ASCII characters.", "Use letters, digits, '-' or '_'.");
        return problem is null;
    }

    public static bool IsValidAddress(string text, out string? problem, out string? fix)
    {
        problem = fix = null;
        int separator = text.IndexOf("://", System.StringComparison.Ordinal);
        if (separator < 0)
        {
            int colon = text.IndexOf(':');
            string head = colon > 0 ? text.Substring(0, colon).ToLowerInvariant() : "";
            if (head is "tcp" or "udp" or "unix")
                return Fail($"'{text}' needs '://' after '{text.Substring(0, colon)}'.", $"Write {head}://{(head == "unix" ? "/" : "")}{text.Substring(colon + 1).TrimStart('/')}.", out problem, out fix);
            return Fail($"'{text}' has no scheme.", $"Start it with tcp://, udp:// or unix://, e.g. {(text.StartsWith("/") ? "unix://" + text : "tcp://" + (text.StartsWith(":") ? "0.0.0.0" : "") + text)}.", out problem, out fix);
        }
        string scheme = text.Substring(0, separator).ToLowerInvariant();
        string rest = text.Substring(separator + 3);
        return scheme switch
        {
            "tcp" or "udp" => IsValidEndpoint(rest, scheme + "://", out problem, out fix),
            "unix" => IsValidUnixPath(rest, out problem, out fix),
            _ => Fail($"'{text.Substring(0, separator)}' is not a supported scheme.", "Use tcp://, udp:// or unix://, e.g. tcp://0.0.0.0:8080.", out problem, out fix),
        };
    }

    private static bool IsValidEndpoint(string text, string prefix, out string? problem, out string? fix)
    {
        string host, port;
        if (text.StartsWith("["))
        {
            int close = text.IndexOf(']');
            if (close < 0) return Fail($"the '[' in '{prefix}{text}' is never closed.", $"Write {prefix}[::1]:8080.", out problem, out fix);
            host = text.Substring(1, close - 1);
            if (!IPAddress.TryParse(host, out var ip) || ip.AddressFamily != AddressFamily.InterNetworkV6)
                return Fail($"'{host}' in brackets is not an IPv6 address.", $"Put only an IPv6 address in brackets, e.g. {prefix}[::1]:8080.", out problem, out fix);
            string after = text.Substring(close + 1);
            if (!after.StartsWith(":")) return Fail($"'{prefix}{text}' has no ':PORT' after the IPv6 address.", $"Write {prefix}[{host}]:8080.", out problem, out fix);
            port = after.Substring(1);
        }
        else
        {
            int colon = text.LastIndexOf(':');
            if (colon < 0) return Fail($"'{prefix}{text}' has no port.", $"Add :PORT, e.g. {prefix}{text}:8080.", out problem, out fix);
            host = text.Substring(0, colon);
            port = text.Substring(colon + 1);
            if (host.Contains(':')) return Fail($"'{prefix}{text}' has an IPv6 address without brackets.", $"Write {prefix}[{host}]:{port}.", out problem, out fix);
            if (host.Length == 0) return Fail($"'{prefix}{text}' has no host.", $"Write {prefix}0.0.0.0:{port} for every IPv4 interface or {prefix}127.0.0.1:{port} for this machine only.", out problem, out fix);
            if (!IsValidHost(host)) return Fail($"'{host}' is not a valid IPv4 address or host name.", $"Use e.g. {prefix}0.0.0.0:8080.", out problem, out fix);
        }
        if (port.Length == 0 || port.Length > 5 || !port.All(c => c is >= '0' and <= '9') || int.Parse(port) > 65535)
            return Fail($"'{port}' in '{prefix}{text}' is not a port number from 0 to 65535.", $"Write a port, e.g. {prefix}0.0.0.0:8080.", out problem, out fix);
        problem = fix = null;
        return true;
    }

    private static bool IsValidHost(string host)
    {
        if (host.All(c => c is >= '0' and <= '9' or '.'))
        {
            string[] parts = host.Split('.');
            return parts.Length == 4 && parts.All(p => p.Length is > 0 and <= 3 && int.Parse(p) <= 255);
        }
        string name = host.EndsWith(".") ? host.Substring(0, host.Length - 1) : host;
        return name.Length is > 0 and <= 253 && name.Split('.').All(label =>
            label.Length is > 0 and <= 63 && label.All(c => char.IsLetterOrDigit(c) && c < 128 || c == '-') && label[0] != '-' && label[label.Length - 1] != '-');
    }

    private static bool IsValidUnixPath(string path, out string? problem, out string? fix)
    {
        if (path.Length == 0) return Fail("'unix://' has no path.", "Write an absolute path, e.g. unix:///run/app/app.sock (three slashes).", out problem, out fix);
        if (path.StartsWith("@")) return Fail($"'unix://{path}' names an abstract socket, which listeners don't support.", "Use a filesystem path, e.g. unix:///run/app/app.sock.", out problem, out fix);
        if (!path.StartsWith("/")) return Fail($"'unix://{path}' has a relative path.", $"Write the absolute path: unix:///{path}.", out problem, out fix);
        if (path.EndsWith("/")) return Fail($"'unix://{path}' names a directory, not a socket file.", $"Add a file name, e.g. unix://{path}app.sock.", out problem, out fix);
        if (Encoding.UTF8.GetByteCount(path) > MaxUnixPathBytes)
            return Fail($"the path in 'unix://{path}' is longer than {MaxUnixPathBytes} bytes, the most a Unix socket address holds.", "Use a shorter path, e.g. under /run or /tmp.", out problem, out fix);
        problem = fix = null;
        return true;
    }

    /// <summary>The accessor's C# name: "http" → Http, "admin-api" → AdminApi.</summary>
    public static string AccessorName(string name)
    {
        var result = new StringBuilder();
        bool upper = true;
        foreach (char c in name)
        {
            if (c < 128 && char.IsLetterOrDigit(c))
            {
                result.Append(upper ? char.ToUpperInvariant(c) : c);
                upper = false;
            }
            else upper = true;
        }
        if (result.Length == 0 || char.IsDigit(result[0])) result.Insert(0, "Listener");
        return result.ToString();
    }

    private static bool Fail(string what, string howToFix, out string? problem, out string? fix)
    {
        problem = what;
        fix = howToFix;
        return false;
    }
}
