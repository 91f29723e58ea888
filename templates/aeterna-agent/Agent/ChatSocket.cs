using System.Net;
using System.Net.WebSockets;
using System.Text;

namespace AeternaAgent;

/// <summary>
/// <c>GET /sessions/{id}/ws</c>: a conversation over a WebSocket. Each text message from the client
/// is a user message; each gets one text message back, <c>{"generation": n, "turn": k, "reply": "…"}</c>
/// (or <c>{"error": "…"}</c> for a message the HTTP API would refuse with a 400 or 409).
/// </summary>
/// <remarks>
/// A WebSocket is long-lived: it stays on the generation that accepted it, across a relay, until
/// the client closes it or that generation, retired, ends it at its drain timeout with close 1012
/// (Service Restart: reconnect). But the memory is handed over at the freeze, so a turn this
/// generation computed after it would be lost to the next one (and its number given out twice).
/// So the socket is only a transport: each message becomes an ordinary request,
/// <c>POST /sessions/{id}/turns</c>, to the listener the socket came in on. Whichever generation
/// owns the conversations answers it: this one while it serves; during a relay the runtime forwards
/// it to the new one (and back here if the relay rolls back); after the relay the new one accepts
/// it. A reply's <c>generation</c> says which one computed the turn. The cost is one local request
/// per message. Messages are answered one at a time, in order. No compression is negotiated
/// (<c>AcceptWebSocketAsync()</c> leaves permessage-deflate off).
/// </remarks>
internal static class ChatSocket
{
    // Idle connections to the listener close soon: a retiring generation's drain waits for its
    // connections, and an idle one of its own would keep it waiting until the drain timeout.
    private static readonly HttpClient Http = new(new SocketsHttpHandler { UseProxy = false, PooledConnectionIdleTimeout = TimeSpan.FromSeconds(1) })
    {
        // A turn posted during a hand-over waits for the new generation (state_handoff.timeout at most).
        Timeout = TimeSpan.FromSeconds(60),
    };

    public static async Task ServeAsync(HttpContext context, string sessionId)
    {
        // The address the socket came in on is where its turns go: the shared listener.
        if (context.Connection.LocalIpAddress is not { } local)
        {
            await Api.Error(StatusCodes.Status500InternalServerError, "the WebSocket endpoint needs a TCP listener").ExecuteAsync(context);
            return;
        }
        var turns = new UriBuilder(Uri.UriSchemeHttp, local.ToString(), context.Connection.LocalPort, $"/sessions/{sessionId}/turns").Uri;
        var cancel = context.RequestAborted;
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var buffer = new byte[Limits.MaxBodyBytes];
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                int length = 0;
                ValueWebSocketReceiveResult received;
                do
                {
                    if (length == buffer.Length)
                    {
                        await socket.CloseAsync(WebSocketCloseStatus.MessageTooBig, $"a message is at most {Limits.MaxBodyBytes} bytes", cancel);
                        return;
                    }
                    received = await socket.ReceiveAsync(buffer.AsMemory(length), cancel);
                    length += received.Count;
                } while (!received.EndOfMessage && received.MessageType != WebSocketMessageType.Close);

                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cancel);
                    return;
                }
                if (received.MessageType != WebSocketMessageType.Text)
                {
                    await socket.CloseAsync(WebSocketCloseStatus.InvalidMessageType, "send text messages", cancel);
                    return;
                }
                var (answer, close) = await TakeTurnAsync(turns, Encoding.UTF8.GetString(buffer, 0, length), cancel);
                if (answer is not null) await socket.SendAsync(answer, WebSocketMessageType.Text, endOfMessage: true, cancel);
                if (close is { } end)
                {
                    await socket.CloseAsync(end.Status, end.Reason, cancel);
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException)
        {
            // The client went away, or the generation ended the socket as it retired.
        }
    }

    /// <summary>
    /// Posts one message as a turn: the answer to send, or how to close the socket when no
    /// generation could take it (1012: the service is restarting; the client reconnects and sends
    /// it again) or it failed (1011).
    /// </summary>
    private static async Task<(byte[]? Answer, (WebSocketCloseStatus Status, string Reason)? Close)> TakeTurnAsync(Uri turns, string text, CancellationToken cancel)
    {
        using var content = new StringContent(System.Text.Json.JsonSerializer.Serialize(new MessageRequest(text), Api.Json.MessageRequest), Encoding.UTF8, "application/json");
        HttpResponseMessage response;
        try
        {
            response = await Http.PostAsync(turns, content, cancel);
        }
        catch (HttpRequestException)
        {
            return (null, ((WebSocketCloseStatus)1012, "the agent is restarting: reconnect and send it again"));
        }
        using (response)
        {
            byte[] body = await response.Content.ReadAsByteArrayAsync(cancel);
            return response.StatusCode switch
            {
                HttpStatusCode.OK or HttpStatusCode.BadRequest or HttpStatusCode.Conflict => (body, null),
                HttpStatusCode.ServiceUnavailable or HttpStatusCode.BadGateway => (null, ((WebSocketCloseStatus)1012, "the agent is restarting: reconnect and send it again")),
                var status => (null, (WebSocketCloseStatus.InternalServerError, $"the turn failed: {(int)status}")),
            };
        }
    }
}
