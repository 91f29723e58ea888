namespace Aeterna;

/// <summary>
/// An HTTP/1.1 request on a <see cref="RelayEventStreamHandler{TSession}"/> endpoint, as the
/// runtime read it: the request line, the header fields in the order they came, and the whole body
/// (<c>Content-Length</c>; chunked request bodies are refused before the handler sees the request).
/// </summary>
public sealed class RelayHttpRequest
{
    internal RelayHttpRequest(string method, string target, IReadOnlyList<KeyValuePair<string, string>> headers, ReadOnlyMemory<byte> body)
    {
        Method = method;
        Target = target;
        Headers = headers;
        Body = body;
        int query = target.IndexOf('?');
        Path = query < 0 ? target : target[..query];
        Query = query < 0 ? "" : target[query..];
    }

    /// <summary>The method, as sent (methods are case-sensitive): <c>GET</c>, <c>POST</c>, …</summary>
    public string Method { get; }

    /// <summary>The request target: the path and the query, as sent (not decoded).</summary>
    public string Target { get; }

    /// <summary>The path of <see cref="Target"/>, before any <c>?</c>.</summary>
    public string Path { get; }

    /// <summary>The query of <see cref="Target"/> from its <c>?</c> on, or empty.</summary>
    public string Query { get; }

    /// <summary>Every header field, name and value (trimmed), in the order the client sent them.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

    /// <summary>The body: empty when the request had none.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>
    /// The value of the header field <paramref name="name"/> (case-insensitive), its lines joined
    /// with <c>", "</c> when it came more than once; null when it did not come.
    /// </summary>
    public string? Header(string name)
    {
        string? value = null;
        foreach (var (key, v) in Headers)
            if (key.Equals(name, StringComparison.OrdinalIgnoreCase)) value = value is null ? v : value + ", " + v;
        return value;
    }

    /// <summary>
    /// Whether the <c>Accept</c> header lists <paramref name="mediaType"/> (e.g. <c>text/event-stream</c>)
    /// with a quality other than 0; wildcards are not matched.
    /// </summary>
    public bool Accepts(string mediaType)
    {
        if (Header("Accept") is not { } accept) return false;
        foreach (var item in accept.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = item.Split(';', StringSplitOptions.TrimEntries);
            if (!parts[0].Equals(mediaType, StringComparison.OrdinalIgnoreCase)) continue;
            bool refused = parts.Skip(1).Any(p => p.Replace(" ", "", StringComparison.Ordinal) is "q=0" or "q=0.0" or "q=0.00" or "q=0.000");
            if (!refused) return true;
        }
        return false;
    }
}
