using System.Buffers;
using System.Text;
using Aeterna.WebSockets;
using Xunit.Abstractions;
using static Aeterna.Runtime.Tests.WebSockets.ClientFrames;

namespace Aeterna.Runtime.Tests.WebSockets;

/// <summary>
/// Random and mutated input into the WebSocket codec (seeds fixed so a failure replays;
/// AETERNA_FUZZ_SCALE=10 runs ten times as many): it never throws, never consumes part of a frame,
/// and a stream cut anywhere, its state carried through the framing bytes as at a hand-over,
/// decodes to exactly the messages it decodes to whole.
/// </summary>
public sealed class WebSocketFuzzTests(ITestOutputHelper output)
{
    private static readonly int Scale = int.TryParse(Environment.GetEnvironmentVariable("AETERNA_FUZZ_SCALE"), out int s) && s > 0 ? s : 1;
    private const int MaxMessage = 4096;

    [Fact]
    public void Random_and_mutated_streams_decode_or_fail_with_a_close_code_and_never_throw()
    {
        var random = new Random(21);
        int messages = 0, failures = 0, iterations = 100_000 * Scale;
        var counts = new Dictionary<ushort, int>();
        for (int i = 0; i < iterations; i++)
        {
            byte[] input;
            if (i % 3 == 0)
            {
                input = new byte[random.Next(0, 64)];
                random.NextBytes(input);
            }
            else
            {
                input = ValidStream(random, out _);
                for (int m = random.Next(1, 4); m > 0 && input.Length > 0; m--)
                    input[random.Next(input.Length)] ^= (byte)(1 << random.Next(8));
            }
            var decoder = new WebSocketDecoder(MaxMessage);
            var buffer = new ReadOnlySequence<byte>(input);
            while (true)
            {
                long before = buffer.Length;
                if (!decoder.TryDecode(ref buffer, out var e))
                {
                    Assert.Equal(before, buffer.Length); // an incomplete frame is left whole
                    break;
                }
                if (e.Kind == WebSocketEventKind.Failed)
                {
                    Assert.Contains(e.CloseCode, new ushort[] { 1002, 1007, 1009 });
                    counts[e.CloseCode] = counts.GetValueOrDefault(e.CloseCode) + 1;
                    failures++;
                    break;
                }
                Assert.True(before - buffer.Length >= 6, "a whole client frame is at least 6 bytes");
                Assert.InRange(e.Payload.Length, 0, MaxMessage);
                Assert.InRange(decoder.Partial.Length, 0, MaxMessage);
                if (e.Kind == WebSocketEventKind.Message) messages++;
            }
        }
        output.WriteLine($"{iterations} streams: {messages} messages, {failures} failures ({string.Join(", ", counts.Select(c => $"{c.Key}: {c.Value}"))})");
        Assert.True(messages > iterations / 2 && counts.Count == 3, "the inputs do not reach both the accepting paths and every close code");
    }

    [Fact]
    public void A_stream_cut_at_random_points_with_its_state_carried_over_decodes_to_the_same_messages()
    {
        var random = new Random(22);
        int iterations = 20_000 * Scale, cuts = 0;
        for (int i = 0; i < iterations; i++)
        {
            var stream = ValidStream(random, out var expected);
            // Each cut is a pause: the undecoded bytes become the read-ahead and the decoder's state
            // the framing bytes, read back by a new decoder, as the next generation would.
            var decoder = new WebSocketDecoder(MaxMessage);
            string? protocol = random.Next(2) == 0 ? null : "p" + random.Next(100);
            var got = new List<(WebSocketOpcode, string)>();
            byte[] readAhead = [];
            int at = 0;
            while (at < stream.Length || readAhead.Length > 0)
            {
                int take = Math.Min(stream.Length - at, random.Next(1, 40));
                var buffer = new ReadOnlySequence<byte>([.. readAhead, .. stream.AsSpan(at, take)]);
                at += take;
                while (decoder.TryDecode(ref buffer, out var e))
                {
                    Assert.NotEqual(WebSocketEventKind.Failed, e.Kind);
                    if (e.Kind == WebSocketEventKind.Message) got.Add((e.Opcode, Convert.ToHexString(e.Payload.Span)));
                }
                readAhead = buffer.ToArray();
                Assert.Null(WebSocketDecoder.TryReadState(decoder.WriteState(protocol), MaxMessage, out var next, out var carried));
                Assert.Equal(protocol, carried);
                decoder = next!;
                cuts++;
                if (at == stream.Length && readAhead.Length > 0) Assert.Fail($"{readAhead.Length} bytes of a valid stream were never decoded");
            }
            Assert.Equal(expected, got);
        }
        output.WriteLine($"{iterations} streams cut {cuts} times");
    }

    [Fact]
    public void Random_framing_state_is_read_or_refused_and_never_throws()
    {
        var random = new Random(23);
        int read = 0, iterations = 200_000 * Scale;
        var valid = new WebSocketDecoder(MaxMessage);
        DecodeAll(valid, Frame(WebSocketOpcode.Text, "abc"u8, fin: false));
        var sample = valid.WriteState("chat");
        for (int i = 0; i < iterations; i++)
        {
            byte[] state;
            if (i % 2 == 0)
            {
                state = new byte[random.Next(0, 24)];
                random.NextBytes(state);
                if (state.Length > 0) state[0] = (byte)random.Next(3);
            }
            else
            {
                state = (byte[])sample.Clone();
                state[random.Next(state.Length)] ^= (byte)(1 << random.Next(8));
            }
            if (WebSocketDecoder.TryReadState(state, MaxMessage, out var decoder, out _) is null)
            {
                Assert.InRange(decoder!.Partial.Length, 0, MaxMessage);
                read++;
            }
        }
        output.WriteLine($"{iterations} states, {read} read");
        Assert.True(read > 0);
    }

    /// <summary>A valid client stream: messages in random fragments with control frames between, and the messages it carries.</summary>
    private static byte[] ValidStream(Random random, out List<(WebSocketOpcode, string)> messages)
    {
        var stream = new List<byte>();
        messages = [];
        for (int m = random.Next(1, 5); m > 0; m--)
        {
            bool text = random.Next(2) == 0;
            byte[] payload = text ? Encoding.UTF8.GetBytes(RandomText(random)) : RandomBytes(random, random.Next(0, 300));
            var opcode = text ? WebSocketOpcode.Text : WebSocketOpcode.Binary;
            messages.Add((opcode, Convert.ToHexString(payload)));
            int fragments = random.Next(1, 4), from = 0;
            for (int f = 0; f < fragments; f++)
            {
                int to = f == fragments - 1 ? payload.Length : random.Next(from, payload.Length + 1);
                stream.AddRange(Frame(f == 0 ? opcode : WebSocketOpcode.Continuation, payload.AsSpan(from, to - from), fin: f == fragments - 1, mask: (uint)random.Next()));
                from = to;
                if (random.Next(3) == 0) stream.AddRange(Frame(random.Next(2) == 0 ? WebSocketOpcode.Ping : WebSocketOpcode.Pong, RandomBytes(random, random.Next(0, 126)), mask: (uint)random.Next()));
            }
        }
        return [.. stream];
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static string RandomText(Random random)
    {
        string[] pieces = ["a", "hello ", "€", "日本", "𝄞", " ", "\n", "ü"];
        var text = new StringBuilder();
        for (int n = random.Next(0, 30); n > 0; n--) text.Append(pieces[random.Next(pieces.Length)]);
        return text.ToString();
    }
}
