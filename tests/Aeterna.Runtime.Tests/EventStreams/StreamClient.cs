using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Aeterna.Runtime.Tests.EventStreams;

/// <summary>
/// An HTTP/1.1 client on a plain socket that reads a chunked body chunk by chunk (so a test sees
/// that every chunk is one whole event, and that the body ends with its last chunk), and whole
/// answers by their Content-Length.
/// </summary>
internal sealed class StreamClient : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly List<byte> _received = [];

    public static async Task<StreamClient> ConnectAsync(IPEndPoint server, Func<Task> accept)
    {
        var client = new StreamClient();
        var connect = client._socket.ConnectAsync(server);
        await accept();
        await connect.WaitAsync(Timeout);
        return client;
    }

    public static string Get(string path, string extra = "") => $"GET {path} HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n{extra}\r\n";

    public static string Post(string path, string body) => $"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}";

    public async Task SendAsync(string text) => await _socket.SendAsync(Encoding.UTF8.GetBytes(text)).WaitAsync(Timeout);

    /// <summary>The status and the header fields of the next response.</summary>
    public async Task<(int Status, Dictionary<string, string> Headers)> ReadHeadAsync()
    {
        var head = await ReadLineAsync("\r\n\r\n");
        var lines = head.Split("\r\n");
        var headers = lines.Skip(1).Select(l => l.Split(": ", 2)).ToDictionary(p => p[0], p => p[1], StringComparer.OrdinalIgnoreCase);
        return (int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), headers);
    }

    /// <summary>The next chunk's data; null for the last chunk (which must end the body, no trailers).</summary>
    public async Task<string?> ReadChunkAsync()
    {
        int size = Convert.ToInt32(await ReadLineAsync("\r\n"), 16);
        if (size == 0)
        {
            Assert.Equal("", await ReadLineAsync("\r\n"));
            return null;
        }
        var data = await ReadBytesAsync(size);
        Assert.Equal("", await ReadLineAsync("\r\n"));
        return Encoding.UTF8.GetString(data);
    }

    /// <summary>A whole answer: status, header fields, body.</summary>
    public async Task<(int Status, Dictionary<string, string> Headers, string Body)> ReadWholeAsync()
    {
        var (status, headers) = await ReadHeadAsync();
        var body = await ReadBytesAsync(int.Parse(headers["Content-Length"], System.Globalization.CultureInfo.InvariantCulture));
        return (status, headers, Encoding.UTF8.GetString(body));
    }

    /// <summary>True when the server closed the connection (nothing more came).</summary>
    public async Task<bool> IsClosedAsync()
    {
        if (_received.Count > 0) return false;
        return await ReadRawAsync() == 0;
    }

    private async Task<string> ReadLineAsync(string end)
    {
        while (true)
        {
            var text = Encoding.UTF8.GetString([.. _received]);
            int at = text.IndexOf(end, StringComparison.Ordinal);
            if (at >= 0)
            {
                _received.RemoveRange(0, Encoding.UTF8.GetByteCount(text[..at]) + end.Length);
                return text[..at];
            }
            if (await ReadRawAsync() == 0) throw new IOException($"the connection closed after {_received.Count} bytes: {text}");
        }
    }

    private async Task<byte[]> ReadBytesAsync(int count)
    {
        while (_received.Count < count)
            if (await ReadRawAsync() == 0) throw new IOException($"the connection closed with {_received.Count} of {count} bytes");
        var bytes = _received.GetRange(0, count).ToArray();
        _received.RemoveRange(0, count);
        return bytes;
    }

    private async Task<int> ReadRawAsync()
    {
        var chunk = new byte[4096];
        int n = await _socket.ReceiveAsync(chunk).WaitAsync(Timeout);
        _received.AddRange(chunk.AsSpan(0, n));
        return n;
    }

    public void Dispose() => _socket.Dispose();
}
