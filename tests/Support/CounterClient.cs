using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Aeterna.Tests.Support;

/// <summary>
/// A reply of the line counter (tests/apps/CounterApp, tests/apps/python_counter_app.py) on a
/// handed-connection endpoint: "generation pid turn total line", for the line <see cref="Sent"/>.
/// </summary>
internal sealed record CounterReply(int Generation, int Pid, long Turn, long Total, string Line, string Sent)
{
    public static CounterReply Parse(string? answer, string sent)
    {
        if (answer is null) throw new IOException($"the connection closed before '{sent}' was answered");
        var parts = answer.Split(' ', 5);
        return new CounterReply(int.Parse(parts[0]), int.Parse(parts[1]), long.Parse(parts[2]), long.Parse(parts[3]), parts[4], sent);
    }

    /// <summary>The generation's number in each run of equal ones, e.g. 1 1 2 2 2 1 → 1 2 1.</summary>
    public static List<int> Runs(IEnumerable<int> values)
    {
        var runs = new List<int>();
        foreach (int v in values)
            if (runs.Count == 0 || runs[^1] != v) runs.Add(v);
        return runs;
    }
}

/// <summary>One TCP connection to the counter, lines in and out.</summary>
internal sealed class CounterClient : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly byte[] _buffer = new byte[4096];
    private readonly StringBuilder _pending = new();
    private readonly Lock _lock = new();
    private readonly List<int> _seen = [];

    public bool Closed { get; private set; }

    public static async Task<CounterClient> ConnectAsync(int port)
    {
        var client = new CounterClient();
        await client._socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).WaitAsync(Timeout);
        return client;
    }

    public async Task<CounterReply> AskAsync(string line)
    {
        await SendAsync(line + "\n");
        var reply = CounterReply.Parse(await ReadLineAsync(), line);
        lock (_lock) _seen.Add(reply.Generation);
        return reply;
    }

    public async Task SendAsync(string text) => await _socket.SendAsync(Encoding.UTF8.GetBytes(text)).WaitAsync(Timeout);

    /// <summary>Asks line after line, a few milliseconds apart, until <paramref name="stop"/>.</summary>
    public async Task<List<CounterReply>> TalkUntilAsync(CancellationToken stop, string prefix = "")
    {
        var replies = new List<CounterReply>();
        for (int i = 0; !stop.IsCancellationRequested; i++)
        {
            replies.Add(await AskAsync($"{prefix}line {i}"));
            await Task.Delay(5, CancellationToken.None);
        }
        return replies;
    }

    /// <summary>Waits until a reply came from <paramref name="generation"/> (after one from <paramref name="after"/>, if given).</summary>
    public async Task WaitForGenerationAsync(int generation, int? after = null)
    {
        using var deadline = new CancellationTokenSource(Timeout);
        while (true)
        {
            lock (_lock)
            {
                int from = after is { } a ? _seen.IndexOf(a) : 0;
                if (from >= 0 && _seen.Skip(from).Contains(generation)) return;
            }
            await Task.Delay(20, deadline.Token);
        }
    }

    /// <summary>The next line, or null at the end of the stream.</summary>
    public async Task<string?> ReadLineAsync()
    {
        while (true)
        {
            string text = _pending.ToString();
            int newline = text.IndexOf('\n');
            if (newline >= 0)
            {
                _pending.Remove(0, newline + 1);
                return text[..newline];
            }
            int n = await _socket.ReceiveAsync(_buffer).WaitAsync(Timeout);
            if (n == 0)
            {
                Closed = true;
                return null;
            }
            _pending.Append(Encoding.UTF8.GetString(_buffer, 0, n));
        }
    }

    public void Dispose() => _socket.Dispose();
}
