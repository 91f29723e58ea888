using System.Globalization;
using System.Text;
using System.Text.Json;

namespace AeternaAgent;

/// <summary>
/// A reply streamed as server-sent events, the way a model types it: one
/// <c>data: {"generation": n, "index": i, "token": "…"}</c> event per token, <see cref="TokenDelay"/>
/// apart, then <c>event: done</c> with <c>{"turn": k, "tokens": t}</c>.
/// </summary>
/// <remarks>
/// The turn is already in the conversation when this starts: <see cref="AgentMemory.Send"/> added
/// the user's message and the whole reply, and only then is the first event written. A stream is
/// long-lived: once its first event is flushed the runtime no longer counts its request as in
/// flight, so a relay can freeze this generation and hand its memory over while the stream goes on
/// here. Recording the turn before streaming is what makes that safe: the memory handed over
/// already holds the whole reply, exactly once, whichever generation serves the session next, and
/// the stream itself never touches the memory. A client that leaves (or whose stream the old
/// generation ends at its drain timeout, between two events) finds the whole reply in
/// <c>GET /sessions/{id}</c>.
/// </remarks>
internal sealed class ReplyStream(int generation, int turn, string reply) : IResult
{
    /// <summary>Between two tokens: AGENT_TOKEN_DELAY_MS, default 50 ms (0: no delay).</summary>
    public static TimeSpan TokenDelay { get; } = TimeSpan.FromMilliseconds(
        int.TryParse(Environment.GetEnvironmentVariable("AGENT_TOKEN_DELAY_MS"), NumberStyles.None, CultureInfo.InvariantCulture, out int ms) ? ms : 50);

    /// <summary>Whether the request asks for the reply as a stream (<c>Accept: text/event-stream</c>).</summary>
    public static bool IsWanted(HttpRequest request) =>
        request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase));

    public async Task ExecuteAsync(HttpContext context)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        var cancel = context.RequestAborted;
        var tokens = Replies.Tokens(reply);
        try
        {
            for (int i = 0; i < tokens.Count; i++)
            {
                if (i > 0 && TokenDelay > TimeSpan.Zero) await Task.Delay(TokenDelay, cancel);
                await WriteEventAsync(response, null, JsonSerializer.Serialize(new TokenEvent(generation, i, tokens[i]), Api.Json.TokenEvent), cancel);
            }
            await WriteEventAsync(response, "done", JsonSerializer.Serialize(new StreamDone(turn, tokens.Count), Api.Json.StreamDone), cancel);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // The client left, or the retiring generation ended the stream between two events:
            // the turn is in the history all the same.
        }
    }

    /// <summary>
    /// One whole event per write and flush, so that a stream ended early ends between events. The
    /// JSON is on one line (the serializer escapes line breaks in strings), as a data line must be.
    /// </summary>
    private static async Task WriteEventAsync(HttpResponse response, string? name, string json, CancellationToken cancel)
    {
        string text = name is null ? $"data: {json}\n\n" : $"event: {name}\ndata: {json}\n\n";
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(text), cancel);
        await response.Body.FlushAsync(cancel);
    }
}

/// <summary>One token of a streamed reply: <c>{"generation": n, "index": i, "token": "…"}</c>.</summary>
internal sealed record TokenEvent(int Generation, int Index, string Token);

/// <summary>The last event of a streamed reply: which turn of the session it was, and how many tokens it had.</summary>
internal sealed record StreamDone(int Turn, int Tokens);
