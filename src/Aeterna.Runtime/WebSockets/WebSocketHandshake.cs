using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Aeterna.WebSockets;

/// <summary>A client's opening handshake, as far as the server needs it.</summary>
internal sealed record WebSocketRequest(string Target, string Key, IReadOnlyList<string> Subprotocols);

/// <summary>
/// The server's side of the RFC 6455 opening handshake (§4.2) on a connection the runtime reads
/// itself: the HTTP/1.1 Upgrade request, and the 101 answer. Extensions (permessage-deflate) are
/// never negotiated: their compression windows are state a hand-over would have to carry.
/// </summary>
/// <remarks>
/// A parser of its own rather than Kestrel's: Kestrel owns the sockets it accepts and cannot be
/// given one back at a message boundary, and only this one request is ever parsed.
/// </remarks>
internal static class WebSocketHandshake
{
    /// <summary>The most bytes of request line and headers read before answering 431.</summary>
    public const int MaxRequestBytes = 16 * 1024;

    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>
    /// Reads the request at the start of <paramref name="buffer"/>, moving <paramref name="buffer"/>
    /// past it (the client may already have sent frames after it). False when the request is not
    /// whole yet; a bad request sets <paramref name="refusal"/> to the whole HTTP answer to send.
    /// </summary>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, out WebSocketRequest? request, out byte[]? refusal)
    {
        request = null;
        refusal = null;
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> head, "\r\n\r\n"u8, advancePastDelimiter: true))
        {
            if (buffer.Length > MaxRequestBytes) refusal = Refusal(431, "Request Header Fields Too Large", "the request's headers are too long");
            return buffer.Length > MaxRequestBytes;
        }
        if (head.Length > MaxRequestBytes)
        {
            refusal = Refusal(431, "Request Header Fields Too Large", "the request's headers are too long");
            return true;
        }
        buffer = buffer.Slice(reader.Position);
        // Latin-1 keeps every byte as one char, so a non-ASCII header cannot make decoding fail.
        var lines = Encoding.Latin1.GetString(head).Split("\r\n");
        var start = lines[0].Split(' ');
        if (start.Length != 3 || start[0] != "GET" || start[2] != "HTTP/1.1" || start[1].Length == 0)
        {
            refusal = Refusal(400, "Bad Request", "a WebSocket handshake is GET <target> HTTP/1.1");
            return true;
        }
        string? upgrade = null, connection = null, key = null, version = null, host = null;
        var protocols = new List<string>();
        foreach (var line in lines.AsSpan(1))
        {
            int colon = line.IndexOf(':');
            if (colon <= 0)
            {
                refusal = Refusal(400, "Bad Request", "a header line has no name");
                return true;
            }
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(' ', '\t');
            switch (name.ToLowerInvariant())
            {
                case "host": host = value; break;
                case "upgrade": upgrade = value; break;
                case "connection": connection = connection is null ? value : connection + "," + value; break;
                case "sec-websocket-key": key = value; break;
                case "sec-websocket-version": version = value; break;
                case "sec-websocket-protocol":
                    protocols.AddRange(value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
                    break;
            }
        }
        if (host is null || !HasToken(upgrade, "websocket") || !HasToken(connection, "upgrade"))
        {
            refusal = Refusal(400, "Bad Request", "a WebSocket handshake needs Host, Upgrade: websocket and Connection: Upgrade");
            return true;
        }
        if (version != "13")
        {
            refusal = Encoding.ASCII.GetBytes("HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return true;
        }
        Span<byte> nonce = stackalloc byte[16];
        if (key is null || !Convert.TryFromBase64String(key, nonce, out int nonceBytes) || nonceBytes != 16)
        {
            refusal = Refusal(400, "Bad Request", "Sec-WebSocket-Key is not 16 bytes in base64");
            return true;
        }
        request = new WebSocketRequest(start[1], key, protocols);
        return true;
    }

    /// <summary>The 101 answer to <paramref name="request"/>, with <paramref name="subprotocol"/> if one was chosen.</summary>
    public static byte[] Accept(WebSocketRequest request, string? subprotocol)
    {
        var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(request.Key + AcceptGuid)));
        var answer = new StringBuilder("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
        answer.Append("Sec-WebSocket-Accept: ").Append(accept).Append("\r\n");
        if (subprotocol is not null) answer.Append("Sec-WebSocket-Protocol: ").Append(subprotocol).Append("\r\n");
        return Encoding.ASCII.GetBytes(answer.Append("\r\n").ToString());
    }

    /// <summary>An HTTP answer that ends the connection.</summary>
    public static byte[] Refusal(int status, string phrase, string detail) =>
        Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain\r\nContent-Length: {detail.Length + 1}\r\nConnection: close\r\n\r\n{detail}\n");

    /// <summary>The answer of a generation that ends a connection before its handshake was answered.</summary>
    public static byte[] Unavailable { get; } =
        Encoding.ASCII.GetBytes("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");

    private static bool HasToken(string? header, string token) =>
        header is not null && header.Split(',', StringSplitOptions.TrimEntries).Any(t => t.Equals(token, StringComparison.OrdinalIgnoreCase));

    /// <summary>Whether <paramref name="value"/> is an HTTP token (RFC 9110 §5.6.2), as a subprotocol must be.</summary>
    public static bool IsToken(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty) return false;
        foreach (byte b in value)
            if (b <= 0x20 || b >= 0x7F || "()<>@,;:\\\"/[]?={}"u8.Contains(b)) return false;
        return true;
    }

    /// <summary><see cref="IsToken(ReadOnlySpan{byte})"/> for a string.</summary>
    public static bool IsToken(string value) => value.All(c => c < 0x80) && IsToken(Encoding.ASCII.GetBytes(value));
}
