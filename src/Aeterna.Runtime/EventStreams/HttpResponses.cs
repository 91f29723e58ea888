using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace Aeterna.EventStreams;

/// <summary>The bytes the runtime writes on its HTTP/1.1 endpoints: heads, whole answers, chunks.</summary>
internal static class HttpResponses
{
    /// <summary>What a client that sent <c>Expect: 100-continue</c> waits for before its body.</summary>
    public static ReadOnlyMemory<byte> Continue { get; } = "HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray();

    /// <summary>The end of a chunked body (no trailers).</summary>
    public static ReadOnlySpan<byte> LastChunk => "0\r\n\r\n"u8;

    /// <summary>The answer of a generation that ends a connection whose request it will not answer.</summary>
    public static ReadOnlyMemory<byte> Unavailable { get; } =
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray();

    /// <summary>A whole answer with a body; <c>Connection: close</c> unless <paramref name="keepAlive"/>.</summary>
    public static byte[] Whole(int status, string contentType, ReadOnlySpan<byte> body, bool keepAlive, IReadOnlyList<KeyValuePair<string, string>>? headers = null)
    {
        var head = StatusLine(status);
        head.Append("Content-Type: ").Append(contentType).Append("\r\n");
        head.Append("Content-Length: ").Append(body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        AppendHeaders(head, headers, keepAlive);
        var bytes = Encoding.Latin1.GetBytes(head.ToString());
        return [.. bytes, .. body];
    }

    /// <summary>A refusal the runtime writes itself: plain text, then the connection closes.</summary>
    public static byte[] Refusal(int status, string message) =>
        Whole(status, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes(message + "\n"), keepAlive: false);

    /// <summary>The head of a streamed (chunked) response.</summary>
    public static byte[] StreamHead(int status, string contentType, bool keepAlive, IReadOnlyList<KeyValuePair<string, string>>? headers)
    {
        var head = StatusLine(status);
        head.Append("Content-Type: ").Append(contentType).Append("\r\n");
        head.Append("Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n");
        AppendHeaders(head, headers, keepAlive);
        return Encoding.Latin1.GetBytes(head.ToString());
    }

    /// <summary>
    /// <paramref name="data"/> as one chunk (nothing when empty: an empty chunk would end the
    /// body), followed by the last chunk when <paramref name="last"/>.
    /// </summary>
    public static byte[] Chunk(ReadOnlySpan<byte> data, bool last)
    {
        Span<byte> size = stackalloc byte[16];
        int sizeBytes = 0;
        if (!data.IsEmpty)
        {
            data.Length.TryFormat(size, out sizeBytes, "x", CultureInfo.InvariantCulture);
            size[sizeBytes++] = (byte)'\r';
            size[sizeBytes++] = (byte)'\n';
        }
        int total = (data.IsEmpty ? 0 : sizeBytes + data.Length + 2) + (last ? LastChunk.Length : 0);
        var chunk = new byte[total];
        int at = 0;
        if (!data.IsEmpty)
        {
            size[..sizeBytes].CopyTo(chunk);
            at = sizeBytes;
            data.CopyTo(chunk.AsSpan(at));
            at += data.Length;
            chunk[at++] = (byte)'\r';
            chunk[at++] = (byte)'\n';
        }
        if (last) LastChunk.CopyTo(chunk.AsSpan(at));
        return chunk;
    }

    private static StringBuilder StatusLine(int status) =>
        new StringBuilder("HTTP/1.1 ").Append(status.ToString(CultureInfo.InvariantCulture)).Append(' ')
            .Append(ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : "Status").Append("\r\n");

    private static void AppendHeaders(StringBuilder head, IReadOnlyList<KeyValuePair<string, string>>? headers, bool keepAlive)
    {
        foreach (var (name, value) in headers ?? [])
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        if (!keepAlive) head.Append("Connection: close\r\n");
        head.Append("\r\n");
    }
}
