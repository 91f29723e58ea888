using System.Buffers;
using System.Text;
using Aeterna.EventStreams;

namespace Aeterna.Fuzz.Targets;

/// <summary>
/// The HTTP side of handed stream endpoints: the first input byte (mod 8) is the length of the
/// http_stream framing state a connection record would carry (HttpStreamFraming.TryRead, which
/// must give back the same bytes when it takes them), the rest the client's bytes, read request
/// after request (HttpRequestParser.TryParse) as keep-alive does. Neither refuses by throwing:
/// every exception is a finding.
/// </summary>
internal sealed class HttpStreamTarget : FuzzTarget
{
    private const int MaxBody = 1024;

    public override string Name => "http_stream";

    public override string Decoder => "HttpStreamFraming.TryRead, HttpRequestParser.TryParse";

    public override int MaxLength => 20 * 1024;

    public override void Decode(ReadOnlySpan<byte> input)
    {
        if (input.Length == 0) return;
        int framingLength = Math.Min(input[0] % 8, input.Length - 1);
        var framing = input.Slice(1, framingLength);
        if (HttpStreamFraming.TryRead(framing, out bool keepAlive) is null && !framing.SequenceEqual(HttpStreamFraming.Write(keepAlive)))
            throw new FuzzFinding("a framing state taken is not the one written back");
        var buffer = new ReadOnlySequence<byte>(input[(1 + framingLength)..].ToArray());
        while (true)
        {
            var status = HttpRequestParser.TryParse(buffer, MaxBody, out var parsed);
            if (status == HttpParseStatus.Refused)
            {
                if (parsed.Status is < 400 or > 599 || string.IsNullOrEmpty(parsed.Error)) throw new FuzzFinding($"a refusal with status {parsed.Status} and no reason");
                return;
            }
            if (status == HttpParseStatus.Incomplete)
            {
                if (parsed.Request is not null) throw new FuzzFinding("an incomplete request was given out");
                return;
            }
            if (parsed.Consumed <= 0 || parsed.Consumed > buffer.Length) throw new FuzzFinding($"consumed {parsed.Consumed} of {buffer.Length} bytes");
            var request = parsed.Request!;
            if (request.Body.Length > MaxBody) throw new FuzzFinding("a body over the limit was accepted");
            if (!request.Target.StartsWith('/') || request.Header("Host") is null) throw new FuzzFinding("a request without a path or a Host was accepted");
            buffer = buffer.Slice(parsed.Consumed);
        }
    }

    public override bool IsRefusal(Exception error) => false;

    public override IEnumerable<byte[]> Seeds()
    {
        byte[] keepAlive = HttpStreamFraming.Write(true);
        yield return [(byte)keepAlive.Length, .. keepAlive, .. Encoding.ASCII.GetBytes("GET /count/3 HTTP/1.1\r\nHost: a\r\nAccept: text/event-stream\r\n\r\n")];
        yield return [0, .. Encoding.ASCII.GetBytes("POST /sessions/a/messages HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhelloGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")];
        yield return [4, 1, 0, 0, 0, .. Encoding.ASCII.GetBytes("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n")];
        yield return [0, .. Encoding.ASCII.GetBytes("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")];
    }
}
