using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Aeterna.Templates.Tests;

/// <summary>One token event of a streamed reply, and when it arrived.</summary>
internal sealed record StreamedToken(int Generation, int Index, string Token, TimeSpan At);

/// <summary>
/// A reply read as server-sent events (<c>POST /sessions/{id}/messages</c> with
/// <c>Accept: text/event-stream</c>): its token events, its <c>done</c> event, and whatever in the
/// stream is not what the agent promises.
/// </summary>
internal sealed class StreamedReply
{
    public required string Session { get; init; }

    public required string Text { get; init; }

    public List<StreamedToken> Tokens { get; } = [];

    /// <summary>The done event's turn and token count; null when the stream ended without it.</summary>
    public (int Turn, int Tokens)? Done { get; set; }

    public TimeSpan Started { get; init; }

    public TimeSpan Ended { get; set; }

    public List<string> Problems { get; } = [];

    public string Reply => string.Concat(Tokens.Select(t => t.Token));

    public static async Task<StreamedReply> ReadAsync(HttpClient http, string session, string text, Stopwatch clock)
    {
        var reply = new StreamedReply { Session = session, Text = text, Started = clock.Elapsed };
        using var request = new HttpRequestMessage(HttpMethod.Post, $"sessions/{session}/messages")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { text }), Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (response.StatusCode != HttpStatusCode.OK || response.Content.Headers.ContentType?.MediaType != "text/event-stream")
        {
            reply.Problems.Add($"{(int)response.StatusCode} {response.Content.Headers.ContentType}: {await response.Content.ReadAsStringAsync()}");
            return reply;
        }
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        string? name = null, data = null, last = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            last = line;
            if (line.StartsWith("event: ", StringComparison.Ordinal)) name = line[7..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal)) data = data is null ? line[6..] : reply.Problem($"two data lines in one event: {line}");
            else if (line.Length > 0) reply.Problems.Add($"a line that is no event field: '{line}'");
            else if (data is null) reply.Problems.Add($"an event without data (event: {name})");
            else
            {
                if (reply.Done is not null) reply.Problems.Add($"an event after done: {data}");
                var json = JsonDocument.Parse(data).RootElement;
                if (name == "done") reply.Done = (json.GetProperty("turn").GetInt32(), json.GetProperty("tokens").GetInt32());
                else if (name is null) reply.Tokens.Add(new StreamedToken(json.GetProperty("generation").GetInt32(), json.GetProperty("index").GetInt32(), json.GetProperty("token").GetString()!, clock.Elapsed));
                else reply.Problems.Add($"an event named '{name}'");
                (name, data) = (null, null);
            }
        }
        if (last is not "") reply.Problems.Add($"the stream ended inside an event, after '{last}'");
        reply.Ended = clock.Elapsed;
        return reply;
    }

    private string? Problem(string problem)
    {
        Problems.Add(problem);
        return null;
    }
}
