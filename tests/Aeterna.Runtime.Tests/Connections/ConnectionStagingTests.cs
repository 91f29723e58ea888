using System.Net;
using System.Net.Sockets;
using System.Text;
using Aeterna.Connections;
using Aeterna.Interop;
using Aeterna.Protocol;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace Aeterna.Runtime.Tests.Connections;

/// <summary>
/// An importer's staging of handed connections (<see cref="ConnectionStaging"/>), on real sockets:
/// a staged connection is registered with the poll but neither read nor written, what its client
/// sends meanwhile is noted and left in the socket for whoever serves it, and an import that fails
/// closes only the importer's copies, so the connection lives on where it came from.
/// </summary>
public sealed class ConnectionStagingTests : IDisposable
{
    private static readonly TimeSpan Timeout = PlayedGeneration.Timeout;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public ConnectionStagingTests() => _listener.Start();

    [Fact]
    public async Task A_staged_connection_notes_what_its_client_sends_and_reads_none_of_it_until_commit_serves_it()
    {
        var (client, server) = await ConnectAsync();
        using var _ = client;
        using var exporterCopy = server;
        var generation = Generation(new LineCounter(2) { Lazy = true });
        var staging = generation.BeginStaging();
        staging.Add([new ReceivedConnection(Record(1), Dup(server))]);

        await client.SendAsync(Encoding.UTF8.GetBytes("held\n"));
        var staged = await StagedWithInputAsync(staging, generation);
        Assert.True(staged.HasInput);
        // Nothing was taken off the socket: the bytes are all still there for the exporter's copy to see.
        Assert.Equal(5, Peek(server));

        var prepared = staging.Finish();
        Assert.Equal([1UL], prepared.Adopted);
        Assert.Equal(1, generation.ServeAll());
        Assert.Equal("2 1 held", await ReadLineAsync(client));
        await generation.StopAsync(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task An_import_that_fails_after_staging_closes_the_importers_copies_and_the_connection_lives_on()
    {
        var (client, server) = await ConnectAsync();
        using var _ = client;
        using var exporterCopy = server;
        var generation = Generation(new LineCounter(2));
        var staging = generation.BeginStaging();
        var fd = Dup(server);
        staging.Add([new ReceivedConnection(Record(1), fd)]);
        Assert.True(staging.Milliseconds > 0);

        staging.Discard();
        Assert.True(fd.IsClosed);
        Assert.Equal(0, generation.Count);
        Assert.Throws<ObjectDisposedException>(() => staging.Finish());
        // The exporter's copy still carries the connection, both ways.
        await client.SendAsync(Encoding.UTF8.GetBytes("still here\n"));
        var buffer = new byte[64];
        int n = await server.ReceiveAsync(buffer).WaitAsync(Timeout);
        Assert.Equal("still here\n", Encoding.UTF8.GetString(buffer, 0, n));
        await server.SendAsync(Encoding.UTF8.GetBytes("ok\n"));
        Assert.Equal("ok", await ReadLineAsync(client));
    }

    [Fact]
    public async Task A_connection_refused_at_staging_has_its_fd_closed_and_is_listed_with_its_reason()
    {
        var (client, server) = await ConnectAsync();
        using var _ = client;
        using var exporterCopy = server;
        var generation = Generation(new LineCounter(2) { RefuseSessions = true });
        var staging = generation.BeginStaging();
        var fd = Dup(server);
        staging.Add([new ReceivedConnection(Record(7), fd), new ReceivedConnection(Record(8), null)]);
        var prepared = staging.Finish();

        Assert.Empty(prepared.Adopted);
        Assert.Equal(["session", "fd_limit"], prepared.Refused.Select(r => r.Reason));
        Assert.Equal([7UL, 8UL], prepared.Refused.Select(r => r.Id));
        Assert.True(fd.IsClosed);
        Assert.Equal(0, generation.ServeAll());
    }

    private static ConnectionRecord Record(ulong id) => new(id, (byte)ConnectionKind.Raw, "counter", Array.Empty<byte>(), Array.Empty<byte>(), new byte[8]);

    /// <summary>The staged connection, once the poll has reported its client's bytes.</summary>
    private static async Task<HandedConnection> StagedWithInputAsync(ConnectionStaging staging, HandedConnections generation)
    {
        var connection = staging.Staged.Single();
        using var deadline = new CancellationTokenSource(Timeout);
        while (!connection.HasInput) await Task.Delay(5, deadline.Token);
        Assert.Equal(0, generation.Count); // not the generation's until the import finishes
        return connection;
    }

    private HandedConnections Generation(RelayConnectionHandler handler) =>
        new(new Dictionary<string, RelayConnectionHandler> { ["counter"] = handler }, NullLogger.Instance);

    private async Task<(Socket Client, Socket Server)> ConnectAsync()
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var connect = client.ConnectAsync((IPEndPoint)_listener.LocalEndpoint);
        var server = await _listener.AcceptSocketAsync().WaitAsync(Timeout);
        await connect.WaitAsync(Timeout);
        return (client, server);
    }

    private static async Task<string> ReadLineAsync(Socket socket)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (await socket.ReceiveAsync(one).WaitAsync(Timeout) == 1 && one[0] != '\n') line.Append((char)one[0]);
        return line.ToString();
    }

    private static int Peek(Socket socket)
    {
        var buffer = new byte[64];
        return socket.Receive(buffer, SocketFlags.Peek);
    }

    /// <summary>Another fd for the same connection, as SCM_RIGHTS would give the importer.</summary>
    private static SafeFileHandle Dup(Socket socket) => new(Libc.DupCloseOnExec((int)socket.Handle, 3), ownsHandle: true);

    public void Dispose() => _listener.Stop();
}
