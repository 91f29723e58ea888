using System.Buffers;
using System.Text;

namespace Aeterna.EventStreams;

/// <summary>
/// A strict reader of HTTP/1.1 requests (RFC 9112) for the runtime's own HTTP endpoints: the
/// request line, header fields, and a <c>Content-Length</c> body. Anything it does not take is
/// answered with a clear 4xx or 5xx and the connection is closed: obsolete line folding, bare LF
/// line ends, control characters, several or malformed <c>Content-Length</c>s, a
/// <c>Transfer-Encoding</c> (no chunked request bodies: 411), a missing or repeated <c>Host</c>,
/// heads over 16 KiB or 100 fields (431), bodies over the endpoint's limit (413), versions other than 1.1 (505).
/// </summary>
/// <remarks>
/// A parser of its own rather than Kestrel's: Kestrel owns the sockets it accepts and its
/// read-ahead, so a connection it serves can never be handed over; here the runtime reads the
/// socket and knows exactly which bytes are the next request.
/// </remarks>
internal static class HttpRequestParser
{
    public const int MaxHeadBytes = 16 * 1024;
    public const int MaxHeaders = 100;

    private static readonly string[] Methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

    /// <summary>Reads the request at the start of <paramref name="buffer"/>; consumes nothing (the caller advances by <see cref="ParsedRequest.Consumed"/>).</summary>
    public static HttpParseStatus TryParse(in ReadOnlySequence<byte> buffer, int maxBodyBytes, out ParsedRequest parsed)
    {
        parsed = default;
        int window = (int)Math.Min(buffer.Length, MaxHeadBytes + 4);
        // The head is small: one copy, then spans.
        Span<byte> start = window <= 4096 ? stackalloc byte[window] : new byte[window];
        buffer.Slice(0, window).CopyTo(start);
        int end = start.IndexOf("\r\n\r\n"u8);
        var head = end < 0 ? start : start[..end];
        // A bare LF is refused as soon as it is seen, not only once the head is whole.
        for (int i = 0; i < head.Length; i++)
            if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) return Refuse(out parsed, 400, "a line of the request ends in a bare LF: lines end in CRLF");
        // Leading empty lines before a request line are tolerated by RFC 9112 §2.2; we are strict.
        if (start.Length >= 2 && start[0] == '\r' && start[1] == '\n') return Refuse(out parsed, 400, "the request starts with an empty line");
        if (end < 0)
        {
            return buffer.Length >= MaxHeadBytes + 4
                ? Refuse(out parsed, 431, $"the request line and header fields are over {MaxHeadBytes} bytes")
                : HttpParseStatus.Incomplete;
        }
        if (end > MaxHeadBytes) return Refuse(out parsed, 431, $"the request line and header fields are over {MaxHeadBytes} bytes");

        int lineEnd = head.IndexOf("\r\n"u8);
        var requestLine = lineEnd < 0 ? head : head[..lineEnd];
        if (RequestLineError(requestLine, out string method, out string target, out int versionStatus) is { } lineError)
            return Refuse(out parsed, versionStatus, lineError);

        var headers = new List<KeyValuePair<string, string>>();
        var rest = lineEnd < 0 ? [] : head[(lineEnd + 2)..];
        while (!rest.IsEmpty)
        {
            int next = rest.IndexOf("\r\n"u8);
            var line = next < 0 ? rest : rest[..next];
            rest = next < 0 ? [] : rest[(next + 2)..];
            if (headers.Count == MaxHeaders) return Refuse(out parsed, 431, $"the request has over {MaxHeaders} header fields");
            if (line.IsEmpty) return Refuse(out parsed, 400, "an empty header line");
            if (line[0] is (byte)' ' or (byte)'\t') return Refuse(out parsed, 400, "a header line starts with whitespace (obsolete line folding is not accepted)");
            int colon = line.IndexOf((byte)':');
            if (colon <= 0 || !IsToken(line[..colon])) return Refuse(out parsed, 400, "a header field's name is not a token followed by ':'");
            var value = line[(colon + 1)..].Trim(" \t"u8);
            foreach (byte b in value)
                if (b is < 0x20 and not (byte)'\t' or 0x7F) return Refuse(out parsed, 400, "a header field's value holds a control character");
            headers.Add(new(Encoding.ASCII.GetString(line[..colon]), Encoding.Latin1.GetString(value)));
        }

        int hosts = 0, lengths = 0;
        long length = 0;
        bool keepAlive = true, upgradeToken = false, upgrade = false, expectsContinue = false;
        foreach (var (name, value) in headers)
        {
            if (name.Equals("Host", StringComparison.OrdinalIgnoreCase)) hosts++;
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
                return headers.Any(h => h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                    ? Refuse(out parsed, 400, "a request with both Transfer-Encoding and Content-Length")
                    : Refuse(out parsed, 411, "chunked (Transfer-Encoding) request bodies are not accepted: send the body with a Content-Length");
            else if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                foreach (var item in value.Split(','))
                {
                    var digits = item.Trim(' ', '\t');
                    if (digits.Length is 0 or > 18 || !digits.All(char.IsAsciiDigit)) return Refuse(out parsed, 400, "Content-Length is not a number");
                    long n = long.Parse(digits, System.Globalization.CultureInfo.InvariantCulture);
                    if (lengths++ > 0 && n != length) return Refuse(out parsed, 400, "Content-Length is given more than once, with different values");
                    length = n;
                }
            }
            else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                foreach (var token in value.Split(',', StringSplitOptions.TrimEntries))
                {
                    if (token.Equals("close", StringComparison.OrdinalIgnoreCase)) keepAlive = false;
                    else if (token.Equals("upgrade", StringComparison.OrdinalIgnoreCase)) upgradeToken = true;
                }
            }
            else if (name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase)) upgrade = true;
            else if (name.Equals("Expect", StringComparison.OrdinalIgnoreCase))
            {
                if (!value.Equals("100-continue", StringComparison.OrdinalIgnoreCase)) return Refuse(out parsed, 417, $"Expect: {value} is not supported (only 100-continue is)");
                expectsContinue = true;
            }
        }
        if (hosts != 1) return Refuse(out parsed, 400, hosts == 0 ? "an HTTP/1.1 request needs a Host header field" : "the Host header field is given more than once");
        if (Array.IndexOf(Methods, method) < 0)
            return Refuse(out parsed, 501, $"method {method} is not served here (only {string.Join(", ", Methods)})");
        if (length > maxBodyBytes) return Refuse(out parsed, 413, $"the body is over {maxBodyBytes} bytes");

        long headBytes = end + 4;
        bool isUpgrade = upgrade && upgradeToken;
        if (buffer.Length < headBytes + length)
        {
            parsed = new ParsedRequest(true, null, 0, keepAlive, isUpgrade, expectsContinue);
            return HttpParseStatus.Incomplete;
        }
        var body = length == 0 ? ReadOnlyMemory<byte>.Empty : buffer.Slice(headBytes, length).ToArray();
        parsed = new ParsedRequest(true, new RelayHttpRequest(method, target, headers, body), headBytes + length, keepAlive, isUpgrade, expectsContinue);
        return HttpParseStatus.Complete;
    }

    /// <summary>Why the request line is not <c>method SP origin-form SP HTTP/1.1</c>, with the status to answer; null when it is.</summary>
    private static string? RequestLineError(ReadOnlySpan<byte> line, out string method, out string target, out int status)
    {
        method = target = "";
        status = 400;
        int first = line.IndexOf((byte)' ');
        int last = line.LastIndexOf((byte)' ');
        if (first <= 0 || last == first) return "the request line is not <method> <target> HTTP/1.1";
        var methodBytes = line[..first];
        var targetBytes = line[(first + 1)..last];
        var version = line[(last + 1)..];
        if (!IsToken(methodBytes)) return "the method is not a token";
        if (targetBytes.IsEmpty || targetBytes[0] != '/') return "the request target is not a path (origin-form, starting with '/')";
        foreach (byte b in targetBytes)
            if (b is <= 0x20 or >= 0x7F) return "the request target holds a space, a control or a non-ASCII byte";
        if (!version.SequenceEqual("HTTP/1.1"u8))
        {
            bool http = version.Length == 8 && version.StartsWith("HTTP/"u8) && char.IsAsciiDigit((char)version[5]) && version[6] == '.' && char.IsAsciiDigit((char)version[7]);
            if (!http) return "the request line does not end in HTTP/1.1";
            status = 505;
            return $"{Encoding.ASCII.GetString(version)} is not served here: a streamed response needs HTTP/1.1";
        }
        method = Encoding.ASCII.GetString(methodBytes);
        target = Encoding.ASCII.GetString(targetBytes);
        return null;
    }

    private static HttpParseStatus Refuse(out ParsedRequest parsed, int status, string error)
    {
        parsed = new ParsedRequest(false, null, 0, false, false, false, status, error);
        return HttpParseStatus.Refused;
    }

    /// <summary>An HTTP token (RFC 9110 §5.6.2).</summary>
    private static bool IsToken(ReadOnlySpan<byte> value) => Aeterna.WebSockets.WebSocketHandshake.IsToken(value);
}
