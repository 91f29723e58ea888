using System.Text.Json;
using Aeterna;

namespace AeternaAgent;

/// <summary>
/// <c>POST /sessions/{id}/messages</c> on the listener <c>ws</c>: with <c>Accept: text/event-stream</c>
/// the reply streamed as server-sent events that cross every relay, one
/// <c>data: {"generation": n, "index": i, "token": "…"}</c> per token, <see cref="ReplyStream.TokenDelay"/>
/// apart, then <c>event: done</c> with <c>{"turn": k, "tokens": t}</c>; without it, the JSON answer
/// of the HTTP port's route. Bad input gets the same 400 or 409 as there.
/// </summary>
/// <remarks>
/// The runtime serves this listener itself (not Kestrel) and, at a relay, hands each stream to the
/// next generation between two tokens, with its <see cref="ReplySession"/>: the client reads one
/// response, every token once and in order, and the tokens say which generation sent them. The
/// user's message is added once, at the start; the reply is the conversation's pending one until
/// the stream ends, and then added to the history once, by whichever generation holds the stream
/// (and so the memory) at its end, or when its client leaves. A stream cut before its end (the
/// next generation refused it) ends with <c>event: cut</c>; its reply goes in the history with the
/// conversation's next turn.
/// </remarks>
internal sealed class HandedReplyStream(AgentMemory memory, About about) : RelayEventStreamHandler<ReplySession>
{
    private const string Prefix = "/sessions/";
    private const string Suffix = "/messages";

    /// <summary>What the HTTP API reads of a body (over it: 413 from the runtime).</summary>
    public override int MaxRequestBodyBytes => Limits.MaxBodyBytes;

    public override ValueTask<RelayStreamStart> OnStartAsync(RelayHttpRequest request, ReplySession session)
    {
        if (SessionId(request.Path) is not { } id)
            return new(Error(StatusCodes.Status404NotFound, "this port serves POST /sessions/{id}/messages and the WebSocket /sessions/{id}/ws"));
        if (request.Method != "POST") return new(Error(StatusCodes.Status405MethodNotAllowed, "send the message with POST"));
        var (text, error) = Api.ParseMessage(request.Body.Span);
        if (error is not null) return new(Error(StatusCodes.Status400BadRequest, error));
        bool stream = request.Accepts("text/event-stream");
        var (sent, status, refusal) = Api.Send(id, text!, memory, streamed: stream);
        if (sent is not { } turn) return new(Error(status, refusal!));
        if (!stream)
            return new(RelayStreamStart.Respond(StatusCodes.Status200OK, "application/json; charset=utf-8",
                JsonSerializer.SerializeToUtf8Bytes(new SessionView(id, [turn.User, turn.Reply]), Api.Json.SessionView)));
        session.Conversation = id;
        session.Turn = turn.Turn;
        session.Reply = turn.Reply.Text;
        return new(RelayStreamStart.Stream());
    }

    public override async ValueTask<bool> OnNextEventAsync(RelayEventWriter events, ReplySession session, CancellationToken pause)
    {
        var tokens = Replies.Tokens(session.Reply);
        if (session.Next < tokens.Count)
        {
            // A pause cancels the wait: the next generation sends this token, after its own wait.
            if (session.Next > 0 && ReplyStream.TokenDelay > TimeSpan.Zero) await Task.Delay(ReplyStream.TokenDelay, pause);
            events.WriteEvent(JsonSerializer.Serialize(new TokenEvent(about.Generation, session.Next, tokens[session.Next]), Api.Json.TokenEvent));
            session.Next++;
            return true;
        }
        // In the history before the client reads `done`, so that it finds the reply there at once.
        memory.Finish(session.Conversation, session.Turn);
        events.WriteEvent(JsonSerializer.Serialize(new StreamDone(session.Turn, tokens.Count), Api.Json.StreamDone), name: "done");
        return false;
    }

    public override ValueTask OnEndAsync(ReplySession session, RelayStreamEnd end)
    {
        // A client that left before the end: the reply is in the history all the same.
        if (end == RelayStreamEnd.ClientLeft) memory.Finish(session.Conversation, session.Turn);
        return default;
    }

    private static RelayStreamStart Error(int status, string message) =>
        RelayStreamStart.Respond(status, "application/json; charset=utf-8", JsonSerializer.SerializeToUtf8Bytes(new ErrorBody(message), Api.Json.ErrorBody));

    /// <summary>The id of <c>/sessions/{id}/messages</c>, or null for any other path.</summary>
    internal static string? SessionId(string path)
    {
        if (path.Length <= Prefix.Length + Suffix.Length || !path.StartsWith(Prefix, StringComparison.Ordinal) || !path.EndsWith(Suffix, StringComparison.Ordinal)) return null;
        string id = path[Prefix.Length..^Suffix.Length];
        return Limits.IsValidSessionId(id) ? id : null;
    }
}
