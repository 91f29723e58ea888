using System.Buffers;
using System.Text;

namespace Aeterna;

/// <summary>
/// What one call of <see cref="RelayEventStreamHandler{TSession}.OnNextEventAsync"/> writes: kept
/// until the call returns, then sent as one chunk of the response. A call that is cancelled (the
/// pause) sends nothing of it. Server-sent events (<see cref="WriteEvent"/>, <see cref="WriteComment"/>)
/// or any bytes (<see cref="Write"/>) for another streamed format.
/// </summary>
public sealed class RelayEventWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new();

    internal RelayEventWriter() { }

    /// <summary>Bytes written so far by this call.</summary>
    public int Length => _buffer.WrittenCount;

    internal ReadOnlySpan<byte> Written => _buffer.WrittenSpan;

    internal void Reset() => _buffer.Clear();

    /// <summary>
    /// One server-sent event: <c>event: name</c> (when given), <c>id: id</c> (when given), a
    /// <c>data:</c> line per line of <paramref name="data"/>, and the empty line that ends it.
    /// </summary>
    public void WriteEvent(string data, string? name = null, string? id = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (name is not null) WriteField("event", Single(name, nameof(name)));
        if (id is not null)
        {
            if (id.Contains('\0', StringComparison.Ordinal)) throw new ArgumentException("an event id may not hold a NUL", nameof(id));
            WriteField("id", Single(id, nameof(id)));
        }
        // A line break of any kind (CRLF, CR, LF) starts another data line, as the reader splits them.
        foreach (var line in data.ReplaceLineEndings("\n").Split('\n')) WriteField("data", line);
        Write("\n"u8);
    }

    /// <summary>A comment line (<c>: text</c>), ignored by event-stream readers: a keep-alive for a stream that waits long.</summary>
    public void WriteComment(string text)
    {
        WriteField("", Single(text, nameof(text)));
        Write("\n"u8);
    }

    /// <summary>Bytes of the body as they are (for a stream that is not server-sent events).</summary>
    public void Write(ReadOnlySpan<byte> bytes) => _buffer.Write(bytes);

    private void WriteField(string field, string value)
    {
        Encoding.UTF8.GetBytes(field, _buffer);
        Write(value.Length == 0 ? ":"u8 : ": "u8);
        Encoding.UTF8.GetBytes(value, _buffer);
        Write("\n"u8);
    }

    private static string Single(string value, string parameter)
    {
        ArgumentNullException.ThrowIfNull(value, parameter);
        if (value.AsSpan().IndexOfAny('\r', '\n') >= 0) throw new ArgumentException("a field of an event is one line: no CR or LF", parameter);
        return value;
    }
}
