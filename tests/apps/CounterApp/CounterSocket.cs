using Aeterna;

namespace CounterApp;

/// <summary>A WebSocket connection's own state: how many messages it has had answered.</summary>
public sealed partial class SocketSession
{
    [RelayState] public long Turns { get; set; }
}

/// <summary>The line protocol's answers over WebSocket (see Program.cs): one text message in, one out.</summary>
public sealed class CounterSocket(Totals totals) : RelayWebSocketHandler<SocketSession>
{
    private static readonly string Generation = Environment.GetEnvironmentVariable("AETERNA_GENERATION") ?? "0";

    public override async ValueTask OnMessageAsync(RelayWebSocket socket, SocketSession session, RelayWebSocketMessage message)
    {
        session.Turns++;
        await socket.SendTextAsync($"{Generation} {Environment.ProcessId} {session.Turns} {totals.Count()} {message.Text}");
    }
}
