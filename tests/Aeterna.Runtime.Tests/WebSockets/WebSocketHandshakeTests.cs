using System.Buffers;
using System.Text;
using Aeterna.WebSockets;

namespace Aeterna.Runtime.Tests.WebSockets;

/// <summary>The opening handshake the runtime answers itself on a handed WebSocket endpoint.</summary>
public sealed class WebSocketHandshakeTests
{
    private const string Request =
        "GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: chat, superchat\r\n" +
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nSec-WebSocket-Version: 13\r\n\r\n";

    [Fact]
    public void The_rfc_example_is_answered_with_its_accept_value_the_chosen_subprotocol_and_no_extension()
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(Request + "FRAME"));
        Assert.True(WebSocketHandshake.TryRead(ref buffer, out var request, out var refusal));
        Assert.Null(refusal);
        Assert.Equal("/chat?room=1", request!.Target);
        Assert.Equal(["chat", "superchat"], request.Subprotocols);
        Assert.Equal("FRAME", Encoding.ASCII.GetString(buffer)); // what the client sent after it stays for the decoder

        var answer = Encoding.ASCII.GetString(WebSocketHandshake.Accept(request, "chat"));
        Assert.StartsWith("HTTP/1.1 101 Switching Protocols\r\n", answer);
        Assert.Contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", answer);
        Assert.Contains("\r\nSec-WebSocket-Protocol: chat\r\n", answer);
        Assert.DoesNotContain("Extensions", answer);
        Assert.EndsWith("\r\n\r\n", answer);
    }

    [Fact]
    public void A_request_not_yet_whole_waits_and_consumes_nothing()
    {
        var bytes = Encoding.ASCII.GetBytes(Request);
        var buffer = new ReadOnlySequence<byte>(bytes, 0, bytes.Length - 1);
        Assert.False(WebSocketHandshake.TryRead(ref buffer, out _, out _));
        Assert.Equal(bytes.Length - 1, buffer.Length);
    }

    [Theory]
    [InlineData("Upgrade: websocket\r\n", "", "400")]
    [InlineData("Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Version: 8\r\n", "426")]
    [InlineData("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "Sec-WebSocket-Key: c2hvcnQ=\r\n", "400")]
    [InlineData("GET /chat?room=1 HTTP/1.1", "POST /chat HTTP/1.1", "400")]
    public void A_request_that_is_not_a_websocket_handshake_is_answered_with_an_http_error(string replace, string with, string status)
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(Request.Replace(replace, with)));
        Assert.True(WebSocketHandshake.TryRead(ref buffer, out var request, out var refusal));
        Assert.Null(request);
        Assert.StartsWith($"HTTP/1.1 {status} ", Encoding.ASCII.GetString(refusal!));
    }

    [Fact]
    public void Headers_past_the_limit_are_refused_with_431_without_waiting_for_their_end()
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nX: " + new string('a', WebSocketHandshake.MaxRequestBytes)));
        Assert.True(WebSocketHandshake.TryRead(ref buffer, out _, out var refusal));
        Assert.StartsWith("HTTP/1.1 431 ", Encoding.ASCII.GetString(refusal!));
    }
}
