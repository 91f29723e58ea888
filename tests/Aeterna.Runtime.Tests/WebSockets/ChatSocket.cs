namespace Aeterna.Runtime.Tests.WebSockets;

/// <summary>A connection's session: its turn count and the path it was opened on.</summary>
public sealed partial class ChatSession
{
    [RelayState] public long Turns { get; set; }

    [RelayState] public string Path { get; set; } = "";
}

/// <summary>
/// Answers each message "{generation} {turn} {path} {text}" ("bye" starts the closing handshake,
/// "boom" throws);
/// binary messages come back as they are.
/// </summary>
internal sealed class ChatSocket(int generation, int maxMessageBytes = 1 << 20) : RelayWebSocketHandler<ChatSession>
{
    public override int MaxMessageBytes => maxMessageBytes;

    public override ValueTask OnOpenAsync(RelayWebSocket socket, ChatSession session, string requestTarget)
    {
        session.Path = requestTarget;
        return default;
    }

    public override string? SelectSubprotocol(IReadOnlyList<string> offered) => offered.Contains("chat.v1") ? "chat.v1" : null;

    public override async ValueTask OnMessageAsync(RelayWebSocket socket, ChatSession session, RelayWebSocketMessage message)
    {
        session.Turns++;
        if (!message.IsText)
        {
            await socket.SendBinaryAsync(message.Data);
            return;
        }
        if (message.Text == "boom") throw new InvalidOperationException("the handler failed");
        if (message.Text == "bye")
        {
            await socket.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "bye");
            return;
        }
        await socket.SendTextAsync($"{generation} {session.Turns} {session.Path} {message.Text}");
    }
}
