using System.Net;
using System.Net.WebSockets;
using System.Text;
using Aeterna.WebSockets;

namespace Aeterna;

/// <summary>
/// One client of a <see cref="RelayWebSocketHandler{TSession}"/> endpoint, as the handler sees it
/// while this generation serves it. Use it from <see cref="RelayWebSocketHandler{TSession}.OnMessageAsync"/>
/// and <see cref="RelayWebSocketHandler{TSession}.OnOpenAsync"/>; once the connection pauses for a
/// hand-over or ends, sends throw <see cref="InvalidOperationException"/>.
/// </summary>
public sealed class RelayWebSocket
{
    private readonly RelayConnection _connection;
    private readonly SemaphoreSlim _send = new(1, 1);
    private int _closeSent;

    internal RelayWebSocket(RelayConnection connection, string? subprotocol)
    {
        _connection = connection;
        Subprotocol = subprotocol;
    }

    /// <summary>The endpoint's name: its listener's.</summary>
    public string Endpoint => _connection.Endpoint;

    /// <summary>The client's address, when the socket has one.</summary>
    public EndPoint? RemoteEndPoint => _connection.RemoteEndPoint;

    /// <summary>The subprotocol agreed in the handshake, or null.</summary>
    public string? Subprotocol { get; }

    /// <summary>Whether this generation was handed the connection (rather than accepting it or serving it again).</summary>
    public bool IsHandedOver => _connection.IsHandedOver;

    /// <summary>Whether a close frame has been sent: the connection is in its closing handshake and takes no more messages.</summary>
    public bool IsClosing => Volatile.Read(ref _closeSent) == 1;

    /// <summary>Sends <paramref name="text"/> as one text message.</summary>
    public ValueTask SendTextAsync(string text, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        return SendMessageAsync(WebSocketDecoder.Frame(WebSocketOpcode.Text, Encoding.UTF8.GetBytes(text)), cancel);
    }

    /// <summary>Sends <paramref name="data"/> as one binary message.</summary>
    public ValueTask SendBinaryAsync(ReadOnlyMemory<byte> data, CancellationToken cancel = default) =>
        SendMessageAsync(WebSocketDecoder.Frame(WebSocketOpcode.Binary, data.Span), cancel);

    /// <summary>
    /// Starts the closing handshake: sends a close frame with <paramref name="status"/>; the runtime
    /// closes the connection when the client answers, or after a second without an answer.
    /// Messages that arrive meanwhile are dropped.
    /// </summary>
    public async ValueTask CloseAsync(WebSocketCloseStatus status, string? description = null, CancellationToken cancel = default)
    {
        if (Interlocked.Exchange(ref _closeSent, 1) == 1) return;
        await SendFrameAsync(WebSocketDecoder.CloseFrame((ushort)status, description ?? ""), cancel).ConfigureAwait(false);
    }

    private async ValueTask SendMessageAsync(byte[] frame, CancellationToken cancel)
    {
        if (IsClosing) throw new InvalidOperationException("the connection is closing: no message can be sent after the close frame");
        await SendFrameAsync(frame, cancel).ConfigureAwait(false);
    }

    /// <summary>One whole frame, never interleaved with another (a handler may send while the runtime answers a ping).</summary>
    internal async ValueTask SendFrameAsync(byte[] frame, CancellationToken cancel = default)
    {
        await _send.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            await _connection.SendAsync(frame, cancel).ConfigureAwait(false);
        }
        finally
        {
            _send.Release();
        }
    }

    /// <summary>The runtime's own close frame (an echo, or a protocol error), unless one was sent already.</summary>
    internal async ValueTask SendCloseAsync(ushort code, string reason)
    {
        if (Interlocked.Exchange(ref _closeSent, 1) == 1) return;
        var frame = code == WebSocketDecoder.NoStatus ? WebSocketDecoder.Frame(WebSocketOpcode.Close, []) : WebSocketDecoder.CloseFrame(code, reason);
        await SendFrameAsync(frame).ConfigureAwait(false);
    }
}
