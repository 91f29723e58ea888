using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Aeterna.Tests.Support;

/// <summary>One turn, as the agent's API writes it.</summary>
internal sealed record Turn(string Role, string Text);

/// <summary>The HTTP API of the template's agent (templates/aeterna-agent) as a client drives it.</summary>
internal sealed class AgentClient(int port) : IDisposable
{
    // Idle keep-alive connections are closed soon, as a browser would: a retiring generation drains
    // until its last connection closes (or drain_timeout), and the relay's commit waits for that.
    private readonly HttpClient _http = new(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromMilliseconds(500) })
    {
        BaseAddress = new Uri($"http://127.0.0.1:{port}/"),
        Timeout = TimeSpan.FromSeconds(30),
    };

    /// <summary>POST /sessions/{id}/messages: the two turns added (user, agent).</summary>
    public async Task<Turn[]> SendAsync(string session, string text)
    {
        using var response = await _http.PostAsJsonAsync($"sessions/{session}/messages", new { text });
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST {session}: {(int)response.StatusCode} {body}");
        var root = JsonDocument.Parse(body).RootElement;
        Assert.Equal(session, root.GetProperty("id").GetString());
        return Turns(root);
    }

    /// <summary>GET /sessions/{id}: every turn, or null for 404.</summary>
    public async Task<Turn[]?> HistoryAsync(string session)
    {
        using var response = await _http.GetAsync($"sessions/{session}");
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {session}: {(int)response.StatusCode} {body}");
        var root = JsonDocument.Parse(body).RootElement;
        Assert.Equal(session, root.GetProperty("id").GetString());
        return Turns(root);
    }

    /// <summary>A raw POST: status and body (for bad input).</summary>
    public async Task<(HttpStatusCode Status, string Body, string? ContentType)> PostRawAsync(string path, byte[]? body, string contentType = "application/json")
    {
        using var content = body is null ? null : new ByteArrayContent(body);
        content?.Headers.TryAddWithoutValidation("Content-Type", contentType);
        using var response = await _http.PostAsync(path, content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Content.Headers.ContentType?.MediaType);
    }

    public async Task<(int Generation, int Pid, string Version)> AboutAsync()
    {
        var root = JsonDocument.Parse(await _http.GetStringAsync("about")).RootElement;
        Assert.Equal(3, root.EnumerateObject().Count()); // exactly {"generation", "pid", "version"}
        return (root.GetProperty("generation").GetInt32(), root.GetProperty("pid").GetInt32(), root.GetProperty("version").GetString()!);
    }

    /// <summary>GET /stats as text (compared whole) and parsed.</summary>
    public async Task<(string Text, JsonElement Root)> StatsAsync()
    {
        string text = await _http.GetStringAsync("stats");
        return (text, JsonDocument.Parse(text).RootElement);
    }

    public async Task<bool> HealthyAsync()
    {
        try
        {
            using var response = await _http.GetAsync("healthz");
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException) { return false; }
        catch (TaskCanceledException) { return false; }
    }

    public async Task WaitHealthyAsync(TimeSpan timeout, Func<string> log)
    {
        var clock = Stopwatch.StartNew();
        while (!await HealthyAsync())
        {
            if (clock.Elapsed > timeout) throw new Xunit.Sdk.XunitException($"GET /healthz did not answer within {timeout.TotalSeconds} s:\n{log()}");
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// Fills sessions in parallel (turns of one session one after another, as a chat goes) and
    /// returns each session's expected history: what the API answered, in order.
    /// </summary>
    public async Task<Dictionary<string, List<Turn>>> ChatAsync(int sessions, int messagesEach, string prefix)
    {
        var histories = new Dictionary<string, List<Turn>>();
        await Task.WhenAll(Enumerable.Range(0, sessions).Select(async s =>
        {
            string id = $"{prefix}-{s}";
            var history = new List<Turn>();
            for (int m = 0; m < messagesEach; m++)
            {
                string text = (m % 3) switch
                {
                    0 => $"My favourite number in {id} is {s * 100 + m}.",
                    1 => $"I keep {m} notes about topic {s} in {id}.",
                    _ => $"What is my favourite number in {id}?",
                };
                var turns = await SendAsync(id, text);
                Assert.Equal(new Turn("user", text), turns[0]);
                Assert.Equal("agent", turns[1].Role);
                history.AddRange(turns);
            }
            lock (histories) histories[id] = history;
        }));
        return histories;
    }

    /// <summary>Every session's history is exactly what was answered when it was written.</summary>
    public async Task AssertHistoriesAsync(Dictionary<string, List<Turn>> expected)
    {
        foreach (var (id, turns) in expected)
        {
            var actual = await HistoryAsync(id);
            Assert.True(actual is not null, $"session {id} is gone");
            Assert.Equal(turns, actual);
        }
    }

    private static Turn[] Turns(JsonElement root) =>
        [.. root.GetProperty("messages").EnumerateArray().Select(m => new Turn(m.GetProperty("role").GetString()!, m.GetProperty("text").GetString()!))];

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    public void Dispose() => _http.Dispose();
}
