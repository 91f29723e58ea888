using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Aeterna.Tests.Support;

namespace Aeterna.Templates.Tests;

/// <summary>
/// A chat over the agent's WebSocket (<c>GET /sessions/{id}/ws</c>), one message at a time, each
/// with a text of its own; every answer must carry the next turn number. A close with 1012 (a
/// retiring generation ending the socket) is a proper ending: the client reconnects, asks the
/// history whether the message it had in hand got its turn (its reply may have been on the way),
/// sends it again if not, and goes on counting. A refused handshake (503) is retried. Anything
/// else (a cut, another close code, a turn out of order, a changed history) is a failure.
/// </summary>
internal sealed class SocketConversation(int port, string session, AgentClient http)
{
    /// <summary>One turn: the socket it was sent on (1 for the first), who computed it (0: the reply never arrived, the history has it).</summary>
    public sealed record Answer(int Socket, int Generation, int Turn, string Text, string Reply);

    private readonly Uri _address = new($"ws://127.0.0.1:{port}/sessions/{session}/ws");
    private readonly List<Answer> _answers = [];
    private readonly List<string> _failures = [];
    private readonly List<int> _closes = [];
    private int _sockets;
    private int _refused;

    public IReadOnlyList<Answer> Answers { get { lock (_answers) return [.. _answers]; } }

    public IReadOnlyList<string> Failures { get { lock (_failures) return [.. _failures]; } }

    /// <summary>The close status of every socket the server ended.</summary>
    public IReadOnlyList<int> Closes { get { lock (_closes) return [.. _closes]; } }

    public int Sockets => Volatile.Read(ref _sockets);

    public int Refused => Volatile.Read(ref _refused);

    /// <summary>Chats until <paramref name="stop"/>, which is only looked at between two turns, so that no message is left in doubt.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        int turn = 0;
        string? pending = null;
        while (!stop.IsCancellationRequested)
        {
            using var io = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            using var socket = new ClientWebSocket();
            try
            {
                await socket.ConnectAsync(_address, io.Token);
            }
            catch (WebSocketException e) when (e.Message.Contains("503", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _refused);
                await Task.Delay(50, CancellationToken.None);
                continue;
            }
            int number = Interlocked.Increment(ref _sockets);
            if (pending is not null)
            {
                var history = await http.HistoryAsync(session) ?? [];
                if (history.Length == 2 * (turn + 1) && history[^2].Text == pending)
                {
                    Add(new Answer(number - 1, 0, ++turn, pending, history[^1].Text));
                    pending = null;
                }
                else if (history.Length != 2 * turn)
                {
                    Fail($"after a reconnect the history has {history.Length / 2} turns; {turn} were answered and one was in hand");
                    return;
                }
            }
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    pending ??= $"Note {turn + 1} on the socket, sent as turn {turn + 1}.";
                    await socket.SendAsync(Encoding.UTF8.GetBytes(pending), WebSocketMessageType.Text, endOfMessage: true, io.Token);
                    var (type, message) = await ReceiveAsync(socket, io.Token);
                    if (type == WebSocketMessageType.Close)
                    {
                        lock (_closes) _closes.Add((int)(socket.CloseStatus ?? 0));
                        if (socket.CloseStatus != (WebSocketCloseStatus)1012) Fail($"closed with {socket.CloseStatus} '{socket.CloseStatusDescription}'");
                        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, io.Token);
                        break;
                    }
                    var root = JsonDocument.Parse(message).RootElement;
                    if (!root.TryGetProperty("turn", out var turnNumber))
                    {
                        Fail($"'{pending}' was answered with {message}");
                        return;
                    }
                    if (turnNumber.GetInt32() != turn + 1) Fail($"turn {turnNumber.GetInt32()} after turn {turn}");
                    turn = turnNumber.GetInt32();
                    Add(new Answer(number, root.GetProperty("generation").GetInt32(), turn, pending, root.GetProperty("reply").GetString()!));
                    pending = null;
                    io.CancelAfter(TimeSpan.FromSeconds(30));
                    await Task.Delay(20, CancellationToken.None);
                }
                if (socket.State == WebSocketState.Open)
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", io.Token);
            }
            catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException)
            {
                Fail($"socket {number} cut: {e.GetType().Name}: {e.Message}");
                return;
            }
        }
    }

    private static async Task<(WebSocketMessageType Type, string Text)> ReceiveAsync(ClientWebSocket socket, CancellationToken cancel)
    {
        var buffer = new byte[64 * 1024];
        int length = 0;
        ValueWebSocketReceiveResult received;
        do
        {
            received = await socket.ReceiveAsync(buffer.AsMemory(length), cancel);
            length += received.Count;
        } while (!received.EndOfMessage);
        return (received.MessageType, Encoding.UTF8.GetString(buffer, 0, length));
    }

    private void Add(Answer answer)
    {
        lock (_answers) _answers.Add(answer);
    }

    private void Fail(string failure)
    {
        lock (_failures) _failures.Add(failure);
    }
}
