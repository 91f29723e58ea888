using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Relay;

/// <summary>
/// A raw TCP connection handed from generation to generation by the real supervisor
/// (tests/apps/CounterApp, a line counter on a handed-connection endpoint): the client talks
/// without pause through a relay and through a rollback during the soak; every line is answered
/// exactly once and in order on the same TCP connection, which never closes, the next generation
/// answering after the relay and the old one again after the rollback, with the connection's
/// session (its turn count) and the service's state (the total) carried each time.
/// </summary>
public sealed class HandedConnectionRelayTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_raw_connection_crosses_a_relay_and_a_rollback_with_every_line_answered_once()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var config = Counter(port, soak: "30s").WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);
        using var client = await CounterClient.ConnectAsync(port);
        var first = await client.AskAsync("hello");
        Assert.Equal(1, first.Generation);

        using var stop = new CancellationTokenSource();
        var talking = client.TalkUntilAsync(stop.Token);
        var relay = supervisor.RelayAsync();
        await supervisor.WaitForLogAsync("relay 1: handover ok");
        await client.WaitForGenerationAsync(2);
        var (rollbackCode, stdout, stderr) = await ToolCli.RunAsync("rollback", "-c", config);
        output.WriteLine(stdout + stderr);
        Assert.Equal(0, rollbackCode);
        Assert.Contains("handed its state back", stdout);
        var (code, report) = await relay;
        output.WriteLine(report.ToString());
        Assert.Equal(1, code);
        Assert.Equal("rolled_back", report.GetProperty("outcome").GetString());
        var handed = report.GetProperty("handover").GetProperty("connections");
        Assert.Equal(1, handed.GetProperty("handed").GetInt32());
        Assert.Equal(1, handed.GetProperty("adopted").GetInt32());
        await client.WaitForGenerationAsync(1, after: 2);
        stop.Cancel();
        var replies = await talking;

        // One TCP connection all along, every line answered once in order, by 1, then 2, then 1 again.
        Assert.False(client.Closed);
        Assert.Equal(new[] { 1, 2, 1 }, CounterReply.Runs(replies.Select(r => r.Generation)));
        Assert.Equal(Enumerable.Range(2, replies.Count).Select(i => (long)i), replies.Select(r => r.Turn));
        Assert.Equal(replies.Select(r => r.Sent), replies.Select(r => r.Line));
        // The total crossed with the state: it counts every line, whichever generation answered.
        Assert.Equal(Enumerable.Range(2, replies.Count).Select(i => (long)i), replies.Select(r => r.Total));
        Assert.Equal(first.Pid, replies[^1].Pid);
        output.WriteLine($"{replies.Count} lines over one connection: {replies.Count(r => r.Generation == 2)} answered by generation 2");
    }

    [Fact]
    public async Task A_connection_whose_session_the_next_version_refuses_is_ended_by_the_old_one_and_the_relay_commits()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var config = (Counter(port, soak: "0s") with { Environment = ["COUNTER_MODE=refuse-sessions-from=2"] }).WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);
        using var client = await CounterClient.ConnectAsync(port);
        Assert.Equal(1, (await client.AskAsync("hello")).Generation);

        var (code, report) = await supervisor.RelayAsync("--soak", "0");
        output.WriteLine(report.ToString());
        Assert.True(code == 0, $"relay exited {code}: {report}");
        var handed = report.GetProperty("handover").GetProperty("connections");
        Assert.Equal(1, handed.GetProperty("refused").GetInt32());
        Assert.Contains("session", handed.GetProperty("reasons").GetString());
        Assert.Equal("BYE session", await client.ReadLineAsync());
        Assert.Null(await client.ReadLineAsync());

        using var again = await CounterClient.ConnectAsync(port);
        var reply = await again.AskAsync("again");
        Assert.Equal(2, reply.Generation);
        Assert.Equal(2, reply.Total); // the state crossed even though the connection did not
    }

    [Fact]
    public async Task Connections_past_the_next_generations_fd_limit_are_refused_and_ended_by_the_old_one_the_rest_cross()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        // 230 fds for each generation (a .NET host opens some 130 itself): the old one holds 60
        // connections; the new one, after its own fds and the 64 it keeps in reserve, has room
        // for some of them only.
        var config = (Counter(port, soak: "0s") with { Command = ["prlimit", "--nofile=230:230", "dotnet", TestApps.CounterApp] }).WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);
        var clients = new List<CounterClient>();
        try
        {
            for (int i = 0; i < 60; i++)
            {
                var client = await CounterClient.ConnectAsync(port);
                clients.Add(client);
                Assert.Equal(1, (await client.AskAsync($"hello {i}")).Generation);
            }

            var (code, report) = await supervisor.RelayAsync("--soak", "0");
            output.WriteLine(report.ToString());
            Assert.True(code == 0, $"relay exited {code}: {report}");
            var handed = report.GetProperty("handover").GetProperty("connections");
            int adopted = handed.GetProperty("adopted").GetInt32(), refused = handed.GetProperty("refused").GetInt32();
            Assert.Equal(60, handed.GetProperty("handed").GetInt32());
            Assert.Equal(60, adopted + refused);
            Assert.True(adopted > 0 && refused > 0, $"expected the fd limit to cut the 60 connections in two, got {adopted} adopted and {refused} refused");
            Assert.Contains("fd_limit", handed.GetProperty("reasons").GetString());

            // Each client learns its fate: the refused ones get the old generation's goodbye and
            // the end of the stream, the adopted ones are answered by the new generation, turn 2.
            int ended = 0, crossed = 0;
            foreach (var client in clients)
            {
                await client.SendAsync("after\n");
                string? line = await client.ReadLineAsync();
                if (line == "BYE fd_limit")
                {
                    Assert.Null(await client.ReadLineAsync());
                    ended++;
                    continue;
                }
                var reply = CounterReply.Parse(line, "after");
                Assert.Equal(2, reply.Generation);
                Assert.Equal(2, reply.Turn);
                crossed++;
            }
            Assert.Equal(refused, ended);
            Assert.Equal(adopted, crossed);
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    private static TestConfig Counter(int port, string soak) => new()
    {
        Command = ["dotnet", TestApps.CounterApp], Port = port, ListenerName = "counter", Readiness = "auto", ReadyTimeout = "20s", Drain = "5s", Soak = soak,
    };
}
