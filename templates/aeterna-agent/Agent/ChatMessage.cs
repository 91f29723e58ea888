using Aeterna;

namespace AeternaAgent;

/// <summary>One turn of a conversation: <c>{"role": "user" | "agent", "text": "…"}</c>.</summary>
/// <remarks>
/// Its <c>[RelayState]</c> properties cross every relay: the generator writes and reads them
/// (reflection-free), and a later version may add members (they start at their initializer) or
/// rename them while keeping the key (<c>[RelayState("text")]</c>).
/// </remarks>
public sealed partial class ChatMessage
{
    public const string User = "user";
    public const string Agent = "agent";

    /// <summary>"user" or "agent".</summary>
    [RelayState] public string Role { get; set; } = "";

    [RelayState] public string Text { get; set; } = "";

    public static ChatMessage Create(string role, string text) => new() { Role = role, Text = text };
}

/// <summary>A conversation: its turns, oldest first.</summary>
public sealed partial class Conversation
{
    [RelayState] public List<ChatMessage> Messages { get; set; } = [];

    /// <summary>
    /// The reply of the last turn while a handed stream still types it (<see cref="AgentMemory.Finish"/>
    /// adds it to <see cref="Messages"/>); null otherwise. It crosses relays with the stream's session.
    /// </summary>
    [RelayState] public ChatMessage? Pending { get; set; }
}
