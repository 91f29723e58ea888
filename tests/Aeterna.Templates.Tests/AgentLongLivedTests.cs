using System.Diagnostics;
using Aeterna.Tests.Support;

namespace Aeterna.Templates.Tests;

/// <summary>
/// The created agent's long-lived connections across a relay: a conversation over its WebSocket
/// and replies streamed token by token, under the real supervisor. The relays use a short drain
/// (3 s) and a fast typist (AGENT_TOKEN_DELAY_MS), so that the tests take seconds.
/// </summary>
public sealed partial class AgentTemplateTests
{
    [Fact]
    public async Task A_WebSocket_conversation_crosses_a_relay_with_every_turn_numbered_once_and_kept()
    {
        int port = FreePort.Get();
        await using var supervisor = SupervisorProcess.Start(WriteLocalConfig("websocket.yaml", port, drain: "3s"), output);
        await supervisor.WaitForActiveAsync(1, TimeSpan.FromSeconds(60));
        using var agent = new AgentClient(port);
        await agent.WaitHealthyAsync(TimeSpan.FromSeconds(30), () => string.Join('\n', supervisor.Log));

        var chat = new SocketConversation(port, "ws", agent);
        using var stop = new CancellationTokenSource();
        var run = chat.RunAsync(stop.Token);
        await EventuallyAsync(() => chat.Answers.Count >= 5 || run.IsCompleted, "five turns on the socket");
        var (code, report) = await supervisor.RelayAsync("--soak", "1s");
        Assert.True(code == 0, $"relay exited {code}: {report}");
        Assert.Equal("committed", report.GetProperty("outcome").GetString());
        // The relay ends once generation 1 has drained, which it does by ending the socket (1012)
        // shortly before its drain timeout; the client then goes on with generation 2.
        await EventuallyAsync(() => chat.Answers.Count(a => a.Socket >= 2) >= 5 || run.IsCompleted, "five turns on a socket to generation 2");
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(30));

        var answers = chat.Answers;
        output.WriteLine($"{answers.Count} turns on {chat.Sockets} sockets ({chat.Refused} handshakes refused); closes: {string.Join(", ", chat.Closes)}; "
            + $"by generation: {string.Join(", ", answers.GroupBy(a => (a.Socket, a.Generation)).Select(g => $"socket {g.Key.Socket} gen {g.Key.Generation}: {g.Count()}"))}");
        Assert.Empty(chat.Failures);
        Assert.Equal(Enumerable.Range(1, answers.Count), answers.Select(a => a.Turn));
        Assert.Equal([1012], chat.Closes); // generation 1 ended its socket as it retired; nothing else closed one
        // A message sent as the close was on its way may be answered with the reply never arriving
        // (the client then finds the turn in the history): at most one per close.
        Assert.True(answers.Count(a => a.Generation == 0) <= chat.Closes.Count, "more unanswered turns than closes");
        Assert.Equal(2, chat.Sockets);
        // Generation 1 kept its socket after the freeze, but every turn sent on it from then on was
        // computed by generation 2, which holds the conversations: none from the memory already
        // handed over (that turn would be missing from the history below, and its number given twice).
        var onFirst = answers.Where(a => a.Socket == 1 && a.Generation != 0).Select(a => a.Generation).ToList();
        Assert.Equal(1, onFirst[0]);
        Assert.Contains(2, onFirst);
        Assert.All(onFirst.SkipWhile(g => g == 1), g => Assert.Equal(2, g));
        Assert.All(answers.Where(a => a.Socket == 2), a => Assert.True(a.Generation == 2, $"turn {a.Turn} on the new socket computed by generation {a.Generation}"));
        // Generation 2's conversation is every turn answered, each once, in order.
        Assert.Equal(answers.SelectMany(a => new[] { new Turn("user", a.Text), new Turn("agent", a.Reply) }), await agent.HistoryAsync("ws"));
        Assert.Equal(2, (await agent.AboutAsync()).Generation);
    }

    [Fact]
    public async Task Streamed_replies_cross_a_relay_with_every_token_once_and_each_turn_kept_once()
    {
        int port = FreePort.Get();
        await using var supervisor = SupervisorProcess.Start(WriteLocalConfig("stream.yaml", port, drain: "10s"), output,
            environment: new Dictionary<string, string> { ["AGENT_TOKEN_DELAY_MS"] = "40" });
        await supervisor.WaitForActiveAsync(1, TimeSpan.FromSeconds(60));
        using var agent = new AgentClient(port);
        await agent.WaitHealthyAsync(TimeSpan.FromSeconds(30), () => string.Join('\n', supervisor.Log));

        // A long statement first, then the same as a question: the answer quotes it, some 35
        // tokens, a second and a half of typing (long beside a loaded machine's pauses) into which
        // the relay's freeze falls.
        string[] sessions = ["sse-0", "sse-1", "sse-2"];
        string Statement(string s) => $"In {s} I keep a long list: {string.Join(' ', Enumerable.Range(1, 40).Select(i => $"item{i}"))}";
        foreach (var s in sessions)
            await agent.SendAsync(s, Statement(s) + ".");

        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        long secondTicks = 0; // when /about first answered from generation 2
        var watch = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested && Interlocked.Read(ref secondTicks) == 0)
            {
                if ((await agent.AboutAsync()).Generation == 2) Interlocked.Exchange(ref secondTicks, clock.Elapsed.Ticks);
                await Task.Delay(20);
            }
        });
        using var http = new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromMilliseconds(500) })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{port}/"),
            Timeout = TimeSpan.FromSeconds(30),
        };
        var streams = sessions.ToDictionary(s => s, _ => new List<StreamedReply>());
        // Staggered by a third of a reply each, so that whenever the freeze falls, some reply is
        // in the middle of its typing.
        var readers = sessions.Select((s, i) => Task.Run(async () =>
        {
            await Task.Delay(500 * i);
            while (!stop.IsCancellationRequested)
            {
                var reply = await StreamedReply.ReadAsync(http, s, Statement(s) + "?", clock);
                lock (streams) streams[s].Add(reply);
            }
        })).ToList();
        int Count(Func<StreamedReply, bool> which) { lock (streams) return streams.Values.Sum(l => l.Count(which)); }

        await EventuallyAsync(() => Count(_ => true) >= 3 || readers.Any(r => r.IsCompleted), "three streamed replies");
        var (code, report) = await supervisor.RelayAsync("--soak", "1s");
        Assert.True(code == 0, $"relay exited {code}: {report}");
        Assert.Equal("committed", report.GetProperty("outcome").GetString());
        var relayed = clock.Elapsed;
        await EventuallyAsync(() => Count(r => r.Started > relayed) >= 3 || readers.Any(r => r.IsCompleted), "replies after the relay");
        await stop.CancelAsync();
        await Task.WhenAll(readers).WaitAsync(TimeSpan.FromSeconds(30));
        await watch.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(secondTicks > 0, "/about never answered from generation 2");
        var all = streams.Values.SelectMany(l => l).ToList();
        // Generation 2 serves (it holds the conversations, so generation 1 is frozen) from the
        // first answer it gave: /about, or the first token of a reply it typed.
        var secondGeneration = all.SelectMany(r => r.Tokens).Where(t => t.Generation == 2).Select(t => t.At).Append(TimeSpan.FromTicks(secondTicks)).Min();
        // Streamed across the freeze: generation 1 was still typing it when generation 2 already answered.
        var across = all.Where(r => r.Tokens.Count > 0 && r.Tokens[0].Generation == 1 && r.Tokens[0].At < secondGeneration && r.Ended > secondGeneration).ToList();
        output.WriteLine($"{all.Count} streamed replies, {all.Sum(r => r.Tokens.Count)} tokens; generation 2 answered at {secondGeneration.TotalSeconds:0.000} s; "
            + $"{across.Count} replies streamed by generation 1 across it ({string.Join(", ", across.Select(r => $"{r.Started.TotalSeconds:0.000}-{r.Ended.TotalSeconds:0.000} s"))}); "
            + $"by generation: {string.Join(", ", all.GroupBy(r => r.Tokens.FirstOrDefault()?.Generation).Select(g => $"{g.Key}: {g.Count()}"))}");
        Assert.NotEmpty(across);
        foreach (var s in sessions)
        {
            var history = await agent.HistoryAsync(s);
            Assert.NotNull(history);
            // Each reply is in generation 2's history exactly once, at its turn: the streams in order, nothing else.
            Assert.Equal(2 * (1 + streams[s].Count), history.Length);
            for (int k = 0; k < streams[s].Count; k++)
            {
                var reply = streams[s][k];
                string what = $"{s} reply {k + 1} ({reply.Started.TotalSeconds:0.000}-{reply.Ended.TotalSeconds:0.000} s)";
                Assert.True(reply.Problems.Count == 0, $"{what}: {string.Join("; ", reply.Problems)}");
                Assert.True(reply.Done is not null, $"{what}: no done event");
                Assert.Equal((k + 2, reply.Tokens.Count), reply.Done!.Value);
                Assert.Equal(Enumerable.Range(0, reply.Tokens.Count), reply.Tokens.Select(t => t.Index));
                Assert.Single(reply.Tokens.Select(t => t.Generation).Distinct());
                Assert.True(reply.Tokens.Count >= 20, $"{what}: {reply.Tokens.Count} tokens");
                Assert.Equal(new Turn("user", reply.Text), history[2 * k + 2]);
                Assert.Equal(new Turn("agent", reply.Reply), history[2 * k + 3]);
            }
        }

        // Without the Accept header the endpoint answers as it always did: the two turns as JSON.
        var plain = await agent.SendAsync("sse-0", Statement("sse-0") + "?");
        Assert.Equal(streams["sse-0"][^1].Reply, plain[1].Text);
    }

    private static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(60)) throw new Xunit.Sdk.XunitException($"not within 60 s: {what}");
            await Task.Delay(20);
        }
    }
}
