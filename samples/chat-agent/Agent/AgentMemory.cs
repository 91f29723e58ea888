using Aeterna;

namespace ChatAgent;

/// <summary>
/// Everything the agent remembers: the conversations and the embedding cache. Registered with
/// <c>AddRelayState&lt;AgentMemory&gt;()</c>, so at a relay the old generation writes its
/// <c>[RelayState]</c> members and the new one reads them before it serves a single request.
/// </summary>
/// <remarks>
/// Requests run in parallel: every access takes <see cref="_lock"/>, and a change is made whole
/// (the user's turn and the reply together) or not at all. The runtime writes the state only once
/// this generation is frozen: it has stopped accepting and no request is in flight, so what crosses
/// is always a state some request left complete. Only requests change it: a WebSocket or a streamed
/// reply on the HTTP port can outlive the freeze (it stays on this generation), so neither touches
/// the memory after its request has started streaming (see <see cref="ChatSocket"/> and
/// <see cref="ReplyStream"/>). The handed ones (on the listener <c>ws</c>) are paused before the
/// memory is written, so they may: a streamed reply there is added when its stream ends
/// (<see cref="Finish"/>), by whichever generation holds the stream and the memory then.
/// </remarks>
public sealed partial class AgentMemory
{
    [RelayState] private Dictionary<string, Conversation> _sessions = new(StringComparer.Ordinal);
    [RelayState] private EmbeddingCache _cache = new();

    private readonly Lock _lock = new();

    /// <summary>
    /// Appends the user's turn and the agent's reply, and says which turn of the session that was
    /// (1 for the first); null and why, when a limit refuses it (nothing changed then). A
    /// <paramref name="streamed"/> turn appends only the user's message: its reply is the
    /// session's pending one until <see cref="Finish"/> adds it, once the stream that types it
    /// ends. A reply still pending when the next turn comes (its stream was cut) is added first.
    /// </summary>
    public (ChatMessage User, ChatMessage Reply, int Turn)? Send(string sessionId, string text, out string? refusal, bool streamed = false)
    {
        lock (_lock)
        {
            bool known = _sessions.TryGetValue(sessionId, out var conversation);
            if (!known && _sessions.Count >= Limits.MaxSessions)
            {
                refusal = $"the agent holds {Limits.MaxSessions} sessions, its limit";
                return null;
            }
            conversation ??= new Conversation();
            int held = conversation.Messages.Count + (conversation.Pending is null ? 0 : 1);
            if (held + 2 > Limits.MaxMessagesPerSession)
            {
                refusal = $"session '{sessionId}' holds {held} messages, its limit";
                return null;
            }
            AddPending(conversation);
            var user = ChatMessage.Create(ChatMessage.User, text);
            var reply = ChatMessage.Create(ChatMessage.Agent, Replies.Compose(conversation.Messages, text, _cache));
            conversation.Messages.Add(user);
            if (streamed) conversation.Pending = reply;
            else conversation.Messages.Add(reply);
            if (!known) _sessions.Add(sessionId, conversation);
            refusal = null;
            return (user, reply, (conversation.Messages.Count + 1) / 2);
        }
    }

    /// <summary>
    /// Adds the pending reply of turn <paramref name="turn"/> to the session's history, if it is
    /// still pending: whichever generation ends the stream that typed it, the reply goes in once.
    /// </summary>
    public void Finish(string sessionId, int turn)
    {
        lock (_lock)
            if (_sessions.TryGetValue(sessionId, out var conversation) && conversation.Pending is not null && conversation.Messages.Count == turn * 2 - 1)
                AddPending(conversation);
    }

    private static void AddPending(Conversation conversation)
    {
        if (conversation.Pending is null) return;
        conversation.Messages.Add(conversation.Pending);
        conversation.Pending = null;
    }

    /// <summary>A copy of the session's messages, or null for an unknown session.</summary>
    public ChatMessage[]? History(string sessionId)
    {
        lock (_lock)
            return _sessions.TryGetValue(sessionId, out var conversation) ? [.. conversation.Messages] : null;
    }

    /// <summary>Writes and reads a small memory once, so that the code a hand-over runs is compiled before it is needed.</summary>
    public static void WarmUp()
    {
        var sample = new AgentMemory();
        sample._sessions["warm-up"] = new Conversation { Messages = [ChatMessage.Create(ChatMessage.User, "Hello."), ChatMessage.Create(ChatMessage.Agent, "Hi!")] };
        RelaySerializer.Deserialize<AgentMemory>(RelaySerializer.Serialize(sample));
    }

    public AgentStats Stats()
    {
        lock (_lock)
            return new AgentStats(_sessions.Count, _sessions.Values.Sum(c => (long)c.Messages.Count),
                new CacheStats(_cache.Count, _cache.Capacity, Embedder.Dimensions, _cache.Hits, _cache.Misses, _cache.Bytes, $"{_cache.Checksum():x8}"));
    }
}

/// <summary>GET /stats: what the memory holds (not part of the chat API; handy to watch a relay).</summary>
public sealed record AgentStats(int Sessions, long Messages, CacheStats Cache);

public sealed record CacheStats(int Entries, int Capacity, int Dimensions, long Hits, long Misses, long Bytes, string Checksum);
