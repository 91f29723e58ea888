using System.Buffers;
using System.Text;
using Aeterna.EventStreams;

namespace Aeterna.Runtime.Tests.EventStreams;

/// <summary>The strict HTTP/1.1 request reader of the runtime's HTTP endpoints, the http_stream framing state and the bytes written.</summary>
public sealed class HttpRequestParserTests
{
    private const string Post = "POST /sessions/a/messages?x=1 HTTP/1.1\r\nHost: agent\r\nAccept: text/event-stream\r\nContent-Length: 5\r\n\r\nhello";

    [Fact]
    public void A_request_with_a_body_is_read_whole_and_the_pipelined_one_after_it_is_left()
    {
        var bytes = Encoding.ASCII.GetBytes(Post + "GET / HTTP/1.1\r\nHost: agent\r\n\r\n");
        Assert.Equal(HttpParseStatus.Complete, Parse(bytes, out var parsed));
        var request = parsed.Request!;
        Assert.Equal(("POST", "/sessions/a/messages?x=1", "/sessions/a/messages", "?x=1"), (request.Method, request.Target, request.Path, request.Query));
        Assert.Equal("hello", Encoding.ASCII.GetString(request.Body.Span));
        Assert.True(request.Accepts("text/event-stream"));
        Assert.Equal("agent", request.Header("HOST"));
        Assert.Equal(Post.Length, parsed.Consumed);
        Assert.True(parsed.KeepAlive);
        Assert.False(parsed.IsUpgrade);
    }

    [Fact]
    public void A_request_not_yet_whole_waits_with_its_head_read_once_the_head_is_there()
    {
        for (int cut = 0; cut < Post.Length; cut++)
        {
            Assert.Equal(HttpParseStatus.Incomplete, Parse(Encoding.ASCII.GetBytes(Post[..cut]), out var parsed));
            Assert.Equal(cut >= Post.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4, parsed.HeadParsed);
        }
        // Across segments, as a pipe gives it.
        var sequence = Segments(Encoding.ASCII.GetBytes(Post), 7);
        Assert.Equal(HttpParseStatus.Complete, HttpRequestParser.TryParse(sequence, 1024, out var whole));
        Assert.Equal("hello", Encoding.ASCII.GetString(whole.Request!.Body.Span));
    }

    [Fact]
    public void Connection_close_expect_continue_and_an_upgrade_are_seen()
    {
        Assert.Equal(HttpParseStatus.Complete, Parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n", out var close));
        Assert.False(close.KeepAlive);
        Assert.Equal(HttpParseStatus.Incomplete, Parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", out var expect));
        Assert.True(expect.HeadParsed && expect.ExpectsContinue);
        Assert.Equal(HttpParseStatus.Complete, Parse("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", out var upgrade));
        Assert.True(upgrade.IsUpgrade);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\nHost: a\n\n", 400, "bare LF")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400, "folding")]
    [InlineData("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "name")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\u0001\r\n\r\n", 400, "control")]
    [InlineData("GET / HTTP/1.1\r\n\r\n", 400, "Host")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than once")]
    [InlineData("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "origin-form")]
    [InlineData("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "a space")]
    [InlineData("GET / HTTP/1.0\r\nHost: a\r\n\r\n", 505, "HTTP/1.0")]
    [InlineData("BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 501, "BREW")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 411, "Content-Length")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400, "both")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400, "different")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, "not a number")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1025\r\n\r\n", 413, "1024")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417, "100-continue")]
    [InlineData("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "empty line")]
    public void Bad_requests_are_refused_with_a_clear_status(string request, int status, string said)
    {
        Assert.Equal(HttpParseStatus.Refused, Parse(request, out var parsed));
        Assert.Equal(status, parsed.Status);
        Assert.Contains(said, parsed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Heads_past_the_limits_are_refused_with_431_without_waiting_for_their_end()
    {
        var endless = "GET / HTTP/1.1\r\nHost: a\r\nX: " + new string('a', HttpRequestParser.MaxHeadBytes);
        Assert.Equal(HttpParseStatus.Refused, Parse(endless, out var parsed));
        Assert.Equal(431, parsed.Status);
        var many = "GET / HTTP/1.1\r\nHost: a\r\n" + string.Concat(Enumerable.Range(0, HttpRequestParser.MaxHeaders).Select(i => $"X-{i}: v\r\n")) + "\r\n";
        Assert.Equal(HttpParseStatus.Refused, Parse(many, out parsed));
        Assert.Equal(431, parsed.Status);
    }

    [Fact]
    public void The_framing_state_is_four_bytes_version_1_and_anything_else_is_refused()
    {
        Assert.Null(HttpStreamFraming.TryRead(HttpStreamFraming.Write(true), out bool keepAlive));
        Assert.True(keepAlive);
        Assert.Null(HttpStreamFraming.TryRead(HttpStreamFraming.Write(false), out keepAlive));
        Assert.False(keepAlive);
        Assert.Equal(new byte[] { 1, 1, 0, 0 }, HttpStreamFraming.Write(true));
        Assert.Contains("version 2", HttpStreamFraming.TryRead([2, 0, 0, 0], out _));
        Assert.Contains("flags", HttpStreamFraming.TryRead([1, 2, 0, 0], out _));
        Assert.Contains("reserved", HttpStreamFraming.TryRead([1, 0, 0, 1], out _));
        Assert.Contains("not 4", HttpStreamFraming.TryRead([1, 0, 0], out _));
    }

    [Fact]
    public void Events_are_written_as_server_sent_events_and_each_call_as_one_chunk()
    {
        var events = new RelayEventWriter();
        events.WriteEvent("line 1\r\nline 2", name: "token", id: "7");
        events.WriteComment("still here");
        Assert.Equal("event: token\nid: 7\ndata: line 1\ndata: line 2\n\n: still here\n\n", Encoding.UTF8.GetString(events.Written));
        Assert.Throws<ArgumentException>(() => events.WriteEvent("x", name: "a\nb"));
        Assert.Equal("5\r\nhello\r\n", Encoding.ASCII.GetString(HttpResponses.Chunk("hello"u8, last: false)));
        Assert.Equal("1a\r\n" + new string('z', 26) + "\r\n0\r\n\r\n", Encoding.ASCII.GetString(HttpResponses.Chunk(Encoding.ASCII.GetBytes(new string('z', 26)), last: true)));
        Assert.Equal("0\r\n\r\n", Encoding.ASCII.GetString(HttpResponses.Chunk([], last: true)));
    }

    [Fact]
    public void A_start_refuses_framing_headers_and_line_breaks_in_values()
    {
        Assert.Throws<ArgumentException>(() => RelayStreamStart.Stream().WithHeader("Content-Length", "3"));
        Assert.Throws<ArgumentException>(() => RelayStreamStart.Stream().WithHeader("X-Id", "a\r\nSet-Cookie: b"));
        Assert.Throws<ArgumentOutOfRangeException>(() => RelayStreamStart.Refuse(200));
        Assert.Throws<ArgumentOutOfRangeException>(() => RelayStreamStart.Respond(204, "text/plain", default));
        var head = Encoding.ASCII.GetString(HttpResponses.StreamHead(200, "text/event-stream", keepAlive: false, RelayStreamStart.Stream().WithHeader("X-Id", "1").Headers));
        Assert.Equal("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nX-Id: 1\r\nConnection: close\r\n\r\n", head);
    }

    private static HttpParseStatus Parse(string request, out ParsedRequest parsed) => Parse(Encoding.Latin1.GetBytes(request), out parsed);

    private static HttpParseStatus Parse(byte[] request, out ParsedRequest parsed) =>
        HttpRequestParser.TryParse(new ReadOnlySequence<byte>(request), 1024, out parsed);

    private static ReadOnlySequence<byte> Segments(byte[] bytes, int size)
    {
        Segment? first = null, last = null;
        for (int i = 0; i < bytes.Length; i += size)
        {
            var segment = new Segment(bytes.AsMemory(i, Math.Min(size, bytes.Length - i)), last);
            first ??= segment;
            last = segment;
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }
}
