using System.Net;
using System.Net.Sockets;
using System.Text;
using Aeterna.Connections;
using Aeterna.Protocol;

namespace Aeterna.Runtime.Tests.Connections;

/// <summary>
/// A live TCP connection handed from one generation to the next and back (docs/protocol.md,
/// "Connections"), both generations real participants on real session sockets, the test playing
/// the supervisor's part frame by frame, a real client on loopback. The client sends before,
/// during and after each hand-over, with a line half sent across it; every line is answered
/// exactly once, in order, by the generation that held the connection, and the client never sees
/// its connection close.
/// </summary>
public sealed class ConnectionHandoverTests : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<IAsyncDisposable> _owned = [];

    public ConnectionHandoverTests() => _listener.Start();

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // served only once the client speaks: the read-ahead makes it speak at once
    public async Task A_live_connection_with_unread_bytes_crosses_to_the_next_generation_and_back_and_the_client_notices_nothing(bool lazy)
    {
        var old = Generation(1, new LineCounter(1) { Lazy = lazy });
        var next = Generation(2, new LineCounter(2) { Lazy = lazy });
        using var client = await ConnectAsync(old);

        Assert.Equal("1 1 a", await client.AskAsync("a"));
        // "c" is half a line when the freeze comes: n holds it unhandled and hands it over.
        await client.SendAsync("b\nc");
        Assert.Equal("1 2 b", await client.ReadLineAsync());

        var (frozen, prepared) = await HandOverAsync(old, next, transfer: 1, during: () => client.SendAsync("\nd\n"));
        Assert.Equal(1, frozen.Connections);
        Assert.True(frozen.ConnectionBytes > 0);
        Assert.Single(prepared.Connections!.Adopted);
        Assert.Empty(prepared.Connections.Refused);

        // What was half sent and what was sent while the connection was in no one's hands: the next generation's.
        Assert.Equal("2 3 c", await client.ReadLineAsync());
        Assert.Equal("2 4 d", await client.ReadLineAsync());
        Assert.Equal("2 5 e", await client.AskAsync("e"));

        // Rollback: the same exchange the other way, to the frozen generation.
        await client.SendAsync("f\ng");
        Assert.Equal("2 6 f", await client.ReadLineAsync());
        await HandOverAsync(next, old, transfer: 2, during: () => client.SendAsync("\n"));
        Assert.Equal("1 7 g", await client.ReadLineAsync());
        Assert.Equal("1 8 h", await client.AskAsync("h"));
        Assert.Equal(1, old.Connections.Count);
        await ReleasedAsync(next); // RELEASE has no answer: its effect is seen here
        Assert.False(client.Closed);
    }

    [Fact]
    public async Task A_quiet_connection_handed_to_a_handler_that_waits_for_input_starts_no_round_until_its_client_speaks()
    {
        var first = new LineCounter(1) { Lazy = true };
        var second = new LineCounter(2) { Lazy = true };
        var old = Generation(1, first);
        var next = Generation(2, second);
        using var client = await ConnectAsync(old);
        Assert.Equal("1 1 a", await client.AskAsync("a"));

        await HandOverAsync(old, next, transfer: 1);
        await Task.Delay(200); // a round started at COMMIT would have begun by now
        Assert.Equal(0, second.Rounds);
        Assert.Equal(1, next.Connections.Count);

        Assert.Equal("2 2 b", await client.AskAsync("b"));
        Assert.Equal(1, second.Rounds);

        // Back, quiet again: the pause finds it waiting, at its boundary, and hands it as it is.
        await Task.Delay(50);
        await HandOverAsync(next, old, transfer: 2);
        Assert.Equal(1, second.Rounds);
        int before = first.Rounds;
        Assert.Equal("1 3 c", await client.AskAsync("c"));
        Assert.Equal(before + 1, first.Rounds);
        await ReleasedAsync(next);
        Assert.False(client.Closed);
    }

    [Fact]
    public async Task A_quiet_connection_waiting_for_input_whose_client_leaves_is_closed_and_forgotten()
    {
        var old = Generation(1, new LineCounter(1) { Lazy = true });
        var next = Generation(2, new LineCounter(2) { Lazy = true });
        using var client = await ConnectAsync(old);
        Assert.Equal("1 1 a", await client.AskAsync("a"));
        await HandOverAsync(old, next, transfer: 1);
        Assert.Equal(1, next.Connections.Count);

        client.Socket.Shutdown(SocketShutdown.Send);
        Assert.Null(await client.ReadLineAsync()); // served on the end of stream, which ends it
        await ReleasedAsync(next);
    }

    [Fact]
    public async Task A_generation_that_stops_ends_a_connection_waiting_for_input_in_its_protocols_words()
    {
        var old = Generation(1, new LineCounter(1) { Lazy = true });
        var next = Generation(2, new LineCounter(2) { Lazy = true });
        using var client = await ConnectAsync(old);
        Assert.Equal("1 1 a", await client.AskAsync("a"));
        await HandOverAsync(old, next, transfer: 1);

        await next.Connections.StopAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("BYE stopping", await client.ReadLineAsync());
        Assert.Null(await client.ReadLineAsync());
    }

    [Fact]
    public async Task A_session_the_next_generation_refuses_is_ended_by_the_generation_that_held_it()
    {
        var old = Generation(1, new LineCounter(1));
        var next = Generation(2, new LineCounter(2) { RefuseSessions = true });
        using var client = await ConnectAsync(old);
        Assert.Equal("1 1 a", await client.AskAsync("a"));

        var (_, prepared) = await HandOverAsync(old, next, transfer: 1);
        var refused = Assert.Single(prepared.Connections!.Refused);
        Assert.Equal("session", refused.Reason);
        Assert.Empty(prepared.Connections.Adopted);

        // n still held it, so n ends it, in its protocol's words, and only then closes it.
        Assert.Equal("BYE session", await client.ReadLineAsync());
        Assert.Null(await client.ReadLineAsync());
        Assert.Equal(0, next.Connections.Count);
        await ReleasedAsync(old);
    }

    [Fact]
    public async Task An_importer_that_dies_with_the_sockets_in_hand_loses_no_connection_the_exporter_resumes_it()
    {
        var old = Generation(1, new LineCounter(1));
        using var client = await ConnectAsync(old);
        await client.SendAsync("a\nb");
        Assert.Equal("1 1 a", await client.ReadLineAsync());

        var (exporterEnd, importerEnd) = FrameChannel.CreatePair();
        using (exporterEnd)
            await old.SendAsync(FrameType.Freeze, new FreezeMessage(1, "pipe", 10_000, Connections: true), ProtocolJson.Default.FreezeMessage, exporterEnd);
        // The importer receives everything, sockets included, and dies before PREPARED: its fds close.
        using (var importer = FrameChannel.FromHandle(importerEnd))
        {
            while (true)
            {
                using var frame = await importer.ReceiveAsync().WaitAsync(PlayedGeneration.Timeout);
                if (frame.Type == FrameType.Connections) Assert.Equal(1, frame.FdCount);
                if (frame.Type == FrameType.StateEnd) break;
            }
        }
        Assert.Equal(1, (await old.ExpectAsync(FrameType.Frozen, ProtocolJson.Default.FrozenMessage)).Connections);
        await client.SendAsync("\nc\n"); // sent while nobody serves it

        await old.SendAsync(FrameType.Resume, new ResumeMessage(1, "the importer died"), ProtocolJson.Default.ResumeMessage);
        await old.ExpectAsync(FrameType.Accepting, ProtocolJson.Default.AcceptingMessage);
        Assert.Equal("1 2 b", await client.ReadLineAsync());
        Assert.Equal("1 3 c", await client.ReadLineAsync());
        Assert.Equal("1 4 d", await client.AskAsync("d"));
    }

    [Fact]
    public async Task A_client_that_closes_during_the_hand_over_is_met_by_the_next_generation_which_closes_too()
    {
        var old = Generation(1, new LineCounter(1));
        var next = Generation(2, new LineCounter(2));
        using var client = await ConnectAsync(old);
        Assert.Equal("1 1 a", await client.AskAsync("a"));

        await HandOverAsync(old, next, transfer: 1, during: async () =>
        {
            await client.SendAsync("last\n");
            client.Socket.Shutdown(SocketShutdown.Send);
        });
        Assert.Equal("2 2 last", await client.ReadLineAsync());
        Assert.Null(await client.ReadLineAsync()); // the next generation saw the end and closed its side
    }

    [Fact]
    public async Task Without_connections_in_the_freeze_the_connection_is_held_unserved_and_served_again_on_resume()
    {
        var old = Generation(1, new LineCounter(1));
        using var client = await ConnectAsync(old);
        Assert.Equal("1 1 a", await client.AskAsync("a"));

        var (exporterEnd, importerEnd) = FrameChannel.CreatePair();
        using (importerEnd)
        {
            using (exporterEnd)
                await old.SendAsync(FrameType.Freeze, new FreezeMessage(1, "pipe", 10_000, Connections: false), ProtocolJson.Default.FreezeMessage, exporterEnd);
            using var importer = FrameChannel.FromHandle(importerEnd);
            while (true)
            {
                using var frame = await importer.ReceiveAsync().WaitAsync(PlayedGeneration.Timeout);
                Assert.NotEqual(FrameType.Connections, frame.Type); // an importer without the capability never sees one
                if (frame.Type == FrameType.StateEnd) break;
            }
        }
        Assert.Equal(0, (await old.ExpectAsync(FrameType.Frozen, ProtocolJson.Default.FrozenMessage)).Connections);
        await client.SendAsync("b\n"); // waits: the frozen generation does not serve from the state it handed over

        await old.SendAsync(FrameType.Resume, new ResumeMessage(1, "test"), ProtocolJson.Default.ResumeMessage);
        await old.ExpectAsync(FrameType.Accepting, ProtocolJson.Default.AcceptingMessage);
        Assert.Equal("1 2 b", await client.ReadLineAsync());
    }

    [Fact]
    public async Task A_generation_that_stops_ends_the_connections_it_serves_in_their_protocols_words()
    {
        var old = Generation(1, new LineCounter(1));
        using var client = await ConnectAsync(old);
        await client.SendAsync("a\nunfinished");
        Assert.Equal("1 1 a", await client.ReadLineAsync());

        await old.Connections.StopAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("BYE stopping", await client.ReadLineAsync());
        Assert.Null(await client.ReadLineAsync());
    }

    [Fact]
    public async Task A_connection_that_comes_back_on_the_fd_number_it_left_on_is_served()
    {
        // An epoll registration lives until EPOLL_CTL_DEL or the connection's last fd closes, and
        // the other generation still holds it: one left behind at close(2) would make the next
        // EPOLL_CTL_ADD of the same connection on the same fd number fail. A hand-back often
        // arrives on the same fd number: here it does for sure.
        var first = new HandedConnections(new Dictionary<string, RelayConnectionHandler> { ["counter"] = new LineCounter(1) }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var second = new HandedConnections(new Dictionary<string, RelayConnectionHandler> { ["counter"] = new LineCounter(2) }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        using var client = new LineClient();
        var connect = client.Socket.ConnectAsync((IPEndPoint)_listener.LocalEndpoint);
        var accepted = await _listener.AcceptSocketAsync().WaitAsync(PlayedGeneration.Timeout);
        await connect;
        first.Accepted("counter", accepted);
        Assert.Equal("1 1 a", await client.AskAsync("a")); // waited on through epoll

        var paused = Assert.Single(await first.PauseAllAsync(default));
        int number = (int)paused.Connection.Handle.DangerousGetHandle();
        var record = HandedConnections.Records([paused])[0];
        paused.Sent = true;
        int elsewhere = Dup(number); // the other generation's copy
        await first.ReleaseAsync(new ReleaseMessage(1, [record.Id], []));
        Assert.Equal(number, Dup2(elsewhere, number)); // back on the same number
        second.Stage([new ReceivedConnection(record, new Microsoft.Win32.SafeHandles.SafeFileHandle(number, ownsHandle: true))]);
        Close(elsewhere);
        second.ServeAll();

        Assert.Equal("2 2 b", await client.AskAsync("b"));
        await second.StopAsync(TimeSpan.FromSeconds(1));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "dup")]
    private static extern int Dup(int fd);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "dup2")]
    private static extern int Dup2(int fd, int to);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "close")]
    private static extern int Close(int fd);

    /// <summary>
    /// The supervisor's part of one hand-over (docs/protocol.md 7.4): IMPORT and FREEZE with the
    /// transfer socket, FROZEN and PREPARED, then <paramref name="during"/> (no generation serves
    /// the connection now), COMMIT, RELEASE with PREPARED's lists, ACCEPTING.
    /// </summary>
    private static async Task<(FrozenMessage, PreparedMessage)> HandOverAsync(PlayedGeneration from, PlayedGeneration to, int transfer, Func<Task>? during = null)
    {
        var (exporterEnd, importerEnd) = FrameChannel.CreatePair();
        using (exporterEnd)
        using (importerEnd)
        {
            await to.SendAsync(FrameType.Import, new ImportMessage(transfer, from.Number, Connections: true), ProtocolJson.Default.ImportMessage, importerEnd);
            await from.SendAsync(FrameType.Freeze, new FreezeMessage(transfer, "pipe", 10_000, Connections: true), ProtocolJson.Default.FreezeMessage, exporterEnd);
        }
        var frozen = await from.ExpectAsync(FrameType.Frozen, ProtocolJson.Default.FrozenMessage);
        var prepared = await to.ExpectAsync(FrameType.Prepared, ProtocolJson.Default.PreparedMessage);
        Assert.NotNull(prepared.Connections);
        if (during is not null) await during();
        await to.SendAsync(FrameType.Commit, new CommitMessage(transfer), ProtocolJson.Default.CommitMessage);
        await from.SendAsync(FrameType.Release, new ReleaseMessage(transfer, prepared.Connections.Adopted, prepared.Connections.Refused), ProtocolJson.Default.ReleaseMessage);
        await to.ExpectAsync(FrameType.Accepting, ProtocolJson.Default.AcceptingMessage);
        return (frozen, prepared);
    }

    /// <summary>Waits until <paramref name="generation"/> holds no connection (it has handled RELEASE).</summary>
    private static async Task ReleasedAsync(PlayedGeneration generation)
    {
        using var deadline = new CancellationTokenSource(PlayedGeneration.Timeout);
        while (generation.Connections.Count > 0) await Task.Delay(10, deadline.Token);
    }

    private PlayedGeneration Generation(int number, RelayConnectionHandler handler)
    {
        var generation = new PlayedGeneration(number, handler);
        _owned.Add(generation);
        return generation;
    }

    /// <summary>A client connected to <paramref name="generation"/>'s endpoint, as its accept loop would hand it the socket.</summary>
    private async Task<LineClient> ConnectAsync(PlayedGeneration generation)
    {
        var client = new LineClient();
        var connect = client.Socket.ConnectAsync((IPEndPoint)_listener.LocalEndpoint);
        var accepted = await _listener.AcceptSocketAsync().WaitAsync(PlayedGeneration.Timeout);
        await connect.WaitAsync(PlayedGeneration.Timeout);
        generation.Connections.Accepted("counter", accepted);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in _owned) await owned.DisposeAsync();
        _listener.Stop();
    }

    /// <summary>The client: a plain TCP socket, lines in and out.</summary>
    private sealed class LineClient : IDisposable
    {
        private readonly byte[] _buffer = new byte[4096];
        private readonly StringBuilder _pending = new();

        public Socket Socket { get; } = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        public bool Closed { get; private set; }

        public async Task SendAsync(string text) => await Socket.SendAsync(Encoding.UTF8.GetBytes(text)).WaitAsync(PlayedGeneration.Timeout);

        public async Task<string> AskAsync(string line)
        {
            await SendAsync(line + "\n");
            return await ReadLineAsync() ?? throw new IOException("the connection closed");
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
                int n = await Socket.ReceiveAsync(_buffer).WaitAsync(PlayedGeneration.Timeout);
                if (n == 0)
                {
                    Closed = true;
                    return null;
                }
                _pending.Append(Encoding.UTF8.GetString(_buffer, 0, n));
            }
        }

        public void Dispose() => Socket.Dispose();
    }
}
