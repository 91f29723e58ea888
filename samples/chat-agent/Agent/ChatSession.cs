using Aeterna;

namespace ChatAgent;

/// <summary>
/// One connection of the handed WebSocket endpoint (<see cref="HandedChatSocket"/>): which
/// conversation it speaks in and how many turns it has had answered. Written with the connection
/// at every relay and read back by the next generation, so a socket keeps both across deploys.
/// </summary>
public sealed partial class ChatSession
{
    /// <summary>The session id of <c>/sessions/{id}/ws</c>, read once at the handshake.</summary>
    [RelayState] public string Conversation { get; set; } = "";

    /// <summary>Turns answered on this connection, by every generation that held it.</summary>
    [RelayState] public int Turns { get; set; }
}
