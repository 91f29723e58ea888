using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Aeterna.Addresses;

/// <summary>The kinds of listening socket.</summary>
internal enum ListenerKind { Tcp, Udp, Unix }

/// <summary>
/// A listener address: <c>tcp://host:port</c>, <c>udp://host:port</c> (host an IPv4 literal, a
/// bracketed IPv6 literal or a DNS name) or <c>unix:///absolute/path</c>. Parsed by hand rather
/// than with <see cref="Uri"/>, which accepts things a socket can't use (paths after the port,
/// user info, relative unix paths) and reports no useful reason when it fails.
/// </summary>
internal readonly record struct ListenerAddress(ListenerKind Kind, string? Host, int Port, string? Path)
{
    private const string Examples = "tcp://0.0.0.0:8080, tcp://[::1]:8080, udp://0.0.0.0:5353 or unix:///run/app/app.sock";

    public static bool TryParse(string text, out ListenerAddress address, out string? message, out string? fix)
    {
        address = default;
        int separator = text.IndexOf("://", StringComparison.Ordinal);
        int colon = text.IndexOf(':');
        if (separator < 0 && colon > 0 && text[..colon].ToLowerInvariant() is "tcp" or "udp" or "unix")
        {
            string scheme0 = text[..colon].ToLowerInvariant();
            string after = text[(colon + 1)..].TrimStart('/');
            return Fail($"'{text}' needs '://' after '{text[..colon]}'.", $"Write {scheme0}://{(scheme0 == "unix" ? "/" : "")}{after}.", out message, out fix);
        }
        if (separator < 0)
        {
            string suggestion = text.StartsWith('/') ? $"unix://{text}" : $"tcp://{(text.StartsWith(':') ? "0.0.0.0" : "")}{text}";
            return Fail($"'{text}' has no scheme.", $"Start it with tcp://, udp:// or unix://, e.g. {suggestion}.", out message, out fix);
        }
        string scheme = text[..separator].ToLowerInvariant();
        string rest = text[(separator + 3)..];
        switch (scheme)
        {
            case "tcp":
            case "udp":
                if (!TryParseEndpoint(rest, scheme + "://", allowEmptyHost: false, out string host, out int port, out message, out fix))
                    return false;
                address = new ListenerAddress(scheme == "tcp" ? ListenerKind.Tcp : ListenerKind.Udp, host, port, null);
                return true;
            case "unix":
                if (!TryParseUnixPath(rest, out message, out fix))
                    return false;
                address = new ListenerAddress(ListenerKind.Unix, null, 0, rest);
                return true;
            default:
                return Fail($"'{text[..separator]}' is not a supported scheme.", $"Use tcp://, udp:// or unix://, e.g. {Examples}.", out message, out fix);
        }
    }

    /// <summary>
    /// Parses "host:port" or "[v6]:port" (and ":port" when <paramref name="allowEmptyHost"/>);
    /// <paramref name="prefix"/> is only used to write examples in the fix.
    /// </summary>
    public static bool TryParseEndpoint(string text, string prefix, bool allowEmptyHost, out string host, out int port, out string? message, out string? fix)
    {
        host = "";
        port = 0;
        string example = allowEmptyHost ? $"{prefix}:9090 or {prefix}127.0.0.1:9090" : $"{prefix}0.0.0.0:8080";
        if (text.Length == 0)
            return Fail($"'{prefix}' has no host and port.", $"Write {example}.", out message, out fix);

        string portText;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']');
            if (close < 0)
                return Fail($"the '[' of the IPv6 address in '{prefix}{text}' is never closed.", $"Write {prefix}[::1]:8080: the address in brackets, then :PORT.", out message, out fix);
            host = text[1..close];
            if (!IPAddress.TryParse(host, out var ip) || ip.AddressFamily != AddressFamily.InterNetworkV6)
                return Fail($"'{host}' in brackets is not an IPv6 address.",
                    IsIPv4(host) ? $"Write IPv4 addresses without brackets: {prefix}{host}:8080." : $"Put only an IPv6 address in brackets, e.g. {prefix}[::1]:8080.",
                    out message, out fix);
            string after = text[(close + 1)..];
            if (after.Length == 0)
                return Fail($"'{prefix}{text}' has no port.", $"Add :PORT after the bracket, e.g. {prefix}[{host}]:8080.", out message, out fix);
            if (after[0] != ':')
                return Fail($"'{prefix}{text}' has '{after}' after the IPv6 address where ':PORT' belongs.", $"Write {prefix}[{host}]:8080.", out message, out fix);
            portText = after[1..];
        }
        else
        {
            int colon = text.LastIndexOf(':');
            if (colon < 0)
                return Fail($"'{prefix}{text}' has no port.", $"Add :PORT, e.g. {prefix}{text}:8080 (port 0 lets the kernel choose).", out message, out fix);
            host = text[..colon];
            portText = text[(colon + 1)..];
            if (host.Contains(':'))
            {
                bool v6 = IPAddress.TryParse(host, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6;
                return Fail($"'{prefix}{text}' has an IPv6 address without brackets.",
                    v6 ? $"Put it in brackets: {prefix}[{host}]:{portText}." : $"Write IPv6 addresses in brackets with the port after them, e.g. {prefix}[::1]:8080.",
                    out message, out fix);
            }
            if (host.Length == 0 && !allowEmptyHost)
                return Fail($"'{prefix}{text}' has no host.", $"Write {prefix}0.0.0.0:{portText} for every IPv4 interface, {prefix}[::]:{portText} for every interface, or {prefix}127.0.0.1:{portText} for this machine only.", out message, out fix);
            if (host.Length > 0 && !IsValidHost(host, out message))
                return Fail(message!, $"Use an IPv4 address, a bracketed IPv6 address or a DNS name, e.g. {example}.", out message, out fix);
        }

        if (portText.Length == 0)
            return Fail($"'{prefix}{text}' has no port after the ':'.", $"Write the port number, e.g. {example}.", out message, out fix);
        if (!portText.All(char.IsAsciiDigit))
            return Fail($"'{portText}' in '{prefix}{text}' is not a port number.",
                portText.Contains('/') ? "Remove everything after the port: listeners take only host and port." : $"Use a number from 0 to 65535, e.g. {example}.",
                out message, out fix);
        if (portText.Length > 5 || int.Parse(portText, CultureInfo.InvariantCulture) > 65535)
            return Fail($"port {portText} in '{prefix}{text}' is out of range.", "Use a port from 0 to 65535 (0 lets the kernel choose).", out message, out fix);
        port = int.Parse(portText, CultureInfo.InvariantCulture);
        message = fix = null;
        return true;
    }

    private static bool TryParseUnixPath(string path, out string? message, out string? fix)
    {
        if (path.Length == 0)
            return Fail("'unix://' has no path.", "Write an absolute path after unix://, e.g. unix:///run/app/app.sock (three slashes).", out message, out fix);
        if (path.StartsWith('@'))
            return Fail($"'unix://{path}' names an abstract socket, which listeners don't support.", $"Use a filesystem path, e.g. unix:///run/app/{path[1..]}.sock.", out message, out fix);
        if (!path.StartsWith('/'))
            return Fail($"'unix://{path}' has a relative path ('{path}'); socket paths must be absolute.",
                $"Write the absolute path after unix:// (three slashes in all), e.g. unix:///{path}.", out message, out fix);
        if (path.Contains('\0'))
            return Fail($"'unix://{path}' contains a NUL character.", "Remove it.", out message, out fix);
        if (path.EndsWith('/'))
            return Fail($"'unix://{path}' names a directory, not a socket file.", $"Add a file name, e.g. unix://{path}app.sock.", out message, out fix);
        if (!UnixSocketPath.Fits(path))
            return Fail($"the path in 'unix://{path}' is {UnixSocketPath.ByteLength(path)} bytes; Unix socket paths can have at most {UnixSocketPath.MaxBytes}.",
                "Use a shorter path, e.g. under /run or /tmp.", out message, out fix);
        message = fix = null;
        return true;
    }

    /// <summary>An IPv4 literal (dotted quad) or a DNS name; IPv6 is handled by the caller (it needs brackets).</summary>
    private static bool IsValidHost(string host, out string? message)
    {
        message = null;
        if (host.All(c => char.IsAsciiDigit(c) || c == '.'))
        {
            if (IsIPv4(host)) return true;
            message = $"'{host}' is not a valid IPv4 address.";
            return false;
        }
        string name = host.EndsWith('.') ? host[..^1] : host;
        bool valid = name.Length is > 0 and <= 253 && name.Split('.').All(label =>
            label.Length is > 0 and <= 63
            && label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')
            && label[0] != '-' && label[^1] != '-');
        if (!valid) message = $"'{host}' is not a valid host name.";
        return valid;
    }

    /// <summary>Strict dotted quad: IPAddress.TryParse also takes "1", "1.2" and octal, which nobody means in a config.</summary>
    private static bool IsIPv4(string host)
    {
        string[] parts = host.Split('.');
        return parts.Length == 4 && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit) && int.Parse(p, CultureInfo.InvariantCulture) <= 255);
    }

    private static bool Fail(string problem, string howToFix, out string? message, out string? fix)
    {
        message = problem;
        fix = howToFix;
        return false;
    }
}
