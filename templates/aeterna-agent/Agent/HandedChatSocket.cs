using System.Net.WebSockets;
using System.Text.Json;
using Aeterna;

namespace AeternaAgent;

/// <summary>
/// <c>ws://…/sessions/{id}/ws</c> on the listener <c>ws</c>: a conversation over a WebSocket that
/// crosses every relay. Each text message from the client is a user message; each gets one text
/// message back, <c>{"generation": n, "turn": k, "reply": "…"}</c> (or <c>{"error": "…"}</c> for
/// a message the HTTP API would refuse with a 400 or 409), the answer of <c>POST /sessions/{id}/turns</c>.
/// </summary>
/// <remarks>
/// The runtime serves this listener itself (not Kestrel) and, at a relay, hands each open socket
/// to the next generation between two messages: no close frame, no reconnect, no message lost or
/// answered twice. The connections are paused before the memory is serialized, so a turn is
/// always taken by the generation that owns the conversations, here, in this process (unlike
/// <see cref="ChatSocket"/>, which must post each message back to the HTTP listener).
/// </remarks>
internal sealed class HandedChatSocket(AgentMemory memory, About about) : RelayWebSocketHandler<ChatSession>
{
    private const string Prefix = "/sessions/";
    private const string Suffix = "/ws";

    /// <summary>A message is at most what the HTTP API reads of a body (the text's own limit is checked per turn).</summary>
    public override int MaxMessageBytes => Limits.MaxBodyBytes;

    public override async ValueTask OnOpenAsync(RelayWebSocket socket, ChatSession session, string requestTarget)
    {
        // The runtime accepts any path at the handshake; this endpoint is /sessions/{id}/ws alone.
        if (SessionId(requestTarget) is not { } id)
        {
            await socket.CloseAsync(WebSocketCloseStatus.PolicyViolation,
                $"connect to /sessions/{{id}}/ws, an id of 1 to {Limits.MaxSessionIdLength} letters, digits, '-', '_' or '.'");
            return;
        }
        session.Conversation = id;
    }

    public override async ValueTask OnMessageAsync(RelayWebSocket socket, ChatSession session, RelayWebSocketMessage message)
    {
        if (!message.IsText)
        {
            await socket.CloseAsync(WebSocketCloseStatus.InvalidMessageType, "send text messages");
            return;
        }
        var (sent, _, error) = Api.Send(session.Conversation, message.Text, memory);
        if (sent is { } turn)
        {
            session.Turns++;
            await socket.SendTextAsync(JsonSerializer.Serialize(Api.Answer(about, turn), Api.Json.TurnView));
        }
        else
        {
            await socket.SendTextAsync(JsonSerializer.Serialize(new ErrorBody(error!), Api.Json.ErrorBody));
        }
    }

    /// <summary>The id of <c>/sessions/{id}/ws</c> (a query string aside), or null for any other target.</summary>
    internal static string? SessionId(string requestTarget)
    {
        int query = requestTarget.IndexOf('?');
        string path = query < 0 ? requestTarget : requestTarget[..query];
        if (path.Length <= Prefix.Length + Suffix.Length || !path.StartsWith(Prefix, StringComparison.Ordinal) || !path.EndsWith(Suffix, StringComparison.Ordinal)) return null;
        string id = path[Prefix.Length..^Suffix.Length];
        return Limits.IsValidSessionId(id) ? id : null;
    }
}
