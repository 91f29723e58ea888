using Aeterna;

namespace ChatAgent;

/// <summary>
/// One reply streamed on the listener <c>ws</c> (<see cref="HandedReplyStream"/>): which turn of
/// which conversation it types, the reply, and how many tokens have been sent. Written with the
/// connection at every relay and read back by the next generation, which sends the next token.
/// </summary>
public sealed partial class ReplySession
{
    [RelayState] public string Conversation { get; set; } = "";

    /// <summary>The turn's number in the conversation, from 1.</summary>
    [RelayState] public int Turn { get; set; }

    /// <summary>The whole reply, composed at the start (<see cref="AgentMemory.Send"/>).</summary>
    [RelayState] public string Reply { get; set; } = "";

    /// <summary>The index of the next token to send.</summary>
    [RelayState] public int Next { get; set; }
}
