using System.Text;
using Aeterna.WebSockets;

namespace Aeterna;

/// <summary>
/// How <see cref="RelayEventStreamHandler{TSession}.OnStartAsync"/> answers a request: with a
/// streamed response (<see cref="Stream"/>), whose events <see cref="RelayEventStreamHandler{TSession}.OnNextEventAsync"/>
/// then writes, or with a whole answer that ends the exchange (<see cref="Refuse"/>, <see cref="Respond"/>).
/// </summary>
public sealed class RelayStreamStart
{
    // The runtime writes these itself; a handler may not.
    private static readonly string[] Reserved = ["Content-Length", "Transfer-Encoding", "Connection", "Content-Type", "Upgrade", "Keep-Alive", "Trailer", "TE"];

    private readonly List<KeyValuePair<string, string>> _headers = [];

    private RelayStreamStart(int status, string contentType, ReadOnlyMemory<byte> body, bool isStream)
    {
        Status = status;
        ContentType = contentType;
        Body = body;
        IsStream = isStream;
    }

    /// <summary>The status of the answer.</summary>
    public int Status { get; }

    /// <summary>Whether the answer is a stream of events rather than a whole body.</summary>
    public bool IsStream { get; }

    internal string ContentType { get; }

    internal ReadOnlyMemory<byte> Body { get; }

    internal IReadOnlyList<KeyValuePair<string, string>> Headers => _headers;

    /// <summary>
    /// A <c>200</c> response streamed in chunked encoding, one chunk per event, until
    /// <see cref="RelayEventStreamHandler{TSession}.OnNextEventAsync"/> says it is done.
    /// <c>Cache-Control: no-cache</c> is sent with it.
    /// </summary>
    public static RelayStreamStart Stream(string contentType = "text/event-stream") =>
        new(200, CheckValue(contentType, nameof(contentType)), default, isStream: true);

    /// <summary>A refusal: <paramref name="status"/> (400 to 599) and <paramref name="message"/> as plain text.</summary>
    public static RelayStreamStart Refuse(int status, string? message = null)
    {
        if (status is < 400 or > 599) throw new ArgumentOutOfRangeException(nameof(status), status, "a refusal is a 4xx or 5xx status");
        return new(status, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes((message ?? "") + "\n"), isStream: false);
    }

    /// <summary>A whole answer: <paramref name="status"/> (200 to 599, not 204 or 304, which have no body) and <paramref name="body"/>.</summary>
    public static RelayStreamStart Respond(int status, string contentType, ReadOnlyMemory<byte> body)
    {
        if (status is < 200 or > 599 or 204 or 304) throw new ArgumentOutOfRangeException(nameof(status), status, "a whole answer is 200 to 599, and not 204 or 304");
        return new(status, CheckValue(contentType, nameof(contentType)), body, isStream: false);
    }

    /// <summary>
    /// Adds a response header field. The runtime writes the framing ones itself
    /// (<c>Content-Length</c>, <c>Transfer-Encoding</c>, <c>Connection</c>, <c>Content-Type</c>, …): those are refused.
    /// </summary>
    public RelayStreamStart WithHeader(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!WebSocketHandshake.IsToken(name)) throw new ArgumentException($"'{name}' is not a header field name", nameof(name));
        if (Reserved.Any(r => r.Equals(name, StringComparison.OrdinalIgnoreCase))) throw new ArgumentException($"the runtime writes {name} itself", nameof(name));
        _headers.Add(new(name, CheckValue(value, nameof(value))));
        return this;
    }

    private static string CheckValue(string value, string parameter)
    {
        ArgumentNullException.ThrowIfNull(value, parameter);
        if (value.Any(c => c is '\r' or '\n' or '\0' || c > 0xFF)) throw new ArgumentException("a header field value holds a line break, a NUL or a character outside Latin-1", parameter);
        return value;
    }
}
