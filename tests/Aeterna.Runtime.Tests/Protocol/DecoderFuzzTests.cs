using System.Buffers;
using System.Text;
using System.Text.Json.Serialization.Metadata;
using Aeterna.Protocol;
using Aeterna.Relay;
using Aeterna.Runtime.Tests.Support;
using Aeterna.Serialization;
using Aeterna.State;
using Xunit.Abstractions;

namespace Aeterna.Runtime.Tests.Protocol;

/// <summary>
/// Millions of random and mutated inputs into every decoder: each must either decode or fail with
/// the protocol's own exception (never another exception, never a hang, never an allocation the
/// input could not pay for). Seeds are fixed so a failure replays; AETERNA_FUZZ_SCALE=10 runs ten
/// times as many inputs.
/// </summary>
public sealed class DecoderFuzzTests(ITestOutputHelper output)
{
    private static readonly int Scale = int.TryParse(Environment.GetEnvironmentVariable("AETERNA_FUZZ_SCALE"), out int s) && s > 0 ? s : 1;

    [Fact]
    public void Frame_headers()
    {
        var random = new Random(11);
        var valid = new byte[FrameHeader.Size];
        FrameHeader.Write(valid, FrameType.StateChunk, 2, new byte[100]);
        var input = new byte[FrameHeader.Size];
        int accepted = 0, iterations = 1_000_000 * Scale;
        for (int i = 0; i < iterations; i++)
        {
            if (i % 2 == 0) random.NextBytes(input);
            else Mutate(valid, input, random);
            try
            {
                var header = FrameHeader.Parse(input, maxLength: 1 << 20);
                Assert.InRange(header.Length, 0, 1 << 20);
                Assert.InRange(header.FdCount, 0, FrameHeader.MaxFds);
                accepted++;
            }
            catch (ProtocolException) { }
        }
        output.WriteLine($"{iterations} headers, {accepted} well-formed");
        Assert.True(accepted > 0, "the mutations never produced a valid header: the fuzzer is not reaching the decoder's accepting paths");
    }

    [Fact]
    public void Message_payloads()
    {
        var random = new Random(12);
        var samples = new (FrameType Type, Func<byte[], object?> Decode, string Valid)[]
        {
            (FrameType.Hello, b => Frame.Decode(FrameType.Hello, b, ProtocolJson.Default.HelloMessage), """{"versions":[1,1],"token":"ab12","pid":42,"stateful":true,"state_types":["A"]}"""),
            (FrameType.Welcome, b => Frame.Decode(FrameType.Welcome, b, ProtocolJson.Default.WelcomeMessage), """{"version":1,"generation":3,"expect_state":true,"mechanism":"auto","max_frame_size":1048576,"max_state_size":1000,"timeout_ms":5000}"""),
            (FrameType.Freeze, b => Frame.Decode(FrameType.Freeze, b, ProtocolJson.Default.FreezeMessage), """{"transfer":1,"mechanism":"pipe","deadline_ms":5000}"""),
            (FrameType.Frozen, b => Frame.Decode(FrameType.Frozen, b, ProtocolJson.Default.FrozenMessage), """{"transfer":1,"stopped_accepting_ns":123,"state_bytes":50000,"regions":1,"region_bytes":4096}"""),
            (FrameType.StateBegin, b => Frame.Decode(FrameType.StateBegin, b, ProtocolJson.Default.StateBeginMessage), """{"mechanism":"pipe","sections":[{"name":"A","bytes":10}],"regions":[{"name":"r","bytes":4096}],"state_bytes":10}"""),
            (FrameType.StateEnd, b => Frame.Decode(FrameType.StateEnd, b, ProtocolJson.Default.StateEndMessage), """{"state_bytes":10,"regions":1}"""),
            (FrameType.Health, b => Frame.Decode(FrameType.Health, b, ProtocolJson.Default.HealthMessage), """{"ok":true,"detail":"fine","requests":10,"errors":0}"""),
        };
        int decoded = 0, iterations = 50_000 * Scale;
        foreach (var (type, decode, validText) in samples)
        {
            var valid = Encoding.UTF8.GetBytes(validText);
            Assert.NotNull(decode(valid));
            for (int i = 0; i < iterations; i++)
            {
                var input = i % 3 == 0 ? RandomBytes(random, random.Next(0, 64)) : Mutated(valid, random);
                try
                {
                    decode(input);
                    decoded++;
                }
                catch (ProtocolException e) when (e.Error == ProtocolError.Malformed) { }
            }
        }
        output.WriteLine($"{iterations * samples.Length} payloads, {decoded} decoded");
    }

    [Fact]
    public void State_sections()
    {
        var random = new Random(13);
        var state = new ChatState { History = [.. Enumerable.Range(0, 20).Select(i => $"turn {i} ünïcödé")] };
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new RelayWriter(buffer);
        state.WriteState(ref writer);
        writer.Flush();
        byte[] valid = buffer.WrittenSpan.ToArray();
        int read = 0, iterations = 500_000 * Scale;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < iterations; i++)
        {
            var input = i % 4 == 0 ? RandomBytes(random, random.Next(0, 32)) : Mutated(valid, random);
            try
            {
                var reader = new RelayReader(input);
                new ChatState().ReadState(ref reader);
                read++;
            }
            catch (RelayFormatException) { }
        }
        long perInput = (GC.GetAllocatedBytesForCurrentThread() - before) / iterations;
        output.WriteLine($"{iterations} sections, {read} read; {perInput} bytes allocated per input on average");
        // Lengths are checked against the bytes left before anything is allocated, so no input makes
        // the reader allocate more than a small multiple of its own size.
        Assert.True(perInput < 16 * valid.Length, $"{perInput} bytes allocated per input of at most {valid.Length + 16} bytes");
    }

    [Fact]
    public async Task Whole_transfers_mutated_on_a_real_socket()
    {
        var random = new Random(14);
        var (source, set) = (new ChatState { History = ["a", "bb", "ccc"] }, new RelayStateSet());
        set.Add(nameof(ChatState), source, () => new ChatState());
        // Record a valid transfer stream once.
        byte[] stream;
        using (var pair = new ChannelPair())
        {
            var export = StateExport.ExportAsync(pair.Left, set, new StateBuffer(), "pipe", FrameChannel.DefaultMaxPayload, default);
            await export;
            pair.Left.Dispose();
            var bytes = new List<byte>();
            var chunk = new byte[4096];
            int n;
            while ((n = pair.Right.Socket.Receive(chunk)) > 0) bytes.AddRange(chunk.AsSpan(0, n).ToArray());
            stream = [.. bytes];
        }
        int outcomes = 0, imported = 0, iterations = 2000 * Scale;
        for (int i = 0; i < iterations; i++)
        {
            using var pair = new ChannelPair(maxPayload: 4096);
            var target = new RelayStateSet();
            target.Add(nameof(ChatState), new ChatState(), () => new ChatState());
            var input = Mutated(stream, random);
            pair.Left.Socket.Send(input);
            pair.Left.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            try
            {
                await StateImport.ImportAsync(pair.Right, target, maxStateBytes: 1 << 20, validateFirst: true, default).WaitAsync(TimeSpan.FromSeconds(5));
                imported++;
            }
            catch (Exception e) when (e is ProtocolException or RelayFormatException) { }
            outcomes++;
        }
        output.WriteLine($"{outcomes} mutated transfers, {imported} imported");
        Assert.Equal(iterations, outcomes);
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>A copy of <paramref name="valid"/> with a few bytes flipped, cut short, or with bytes inserted or removed.</summary>
    private static byte[] Mutated(byte[] valid, Random random)
    {
        var bytes = new List<byte>(valid);
        int edits = 1 + random.Next(3);
        for (int e = 0; e < edits && bytes.Count > 0; e++)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(5))
            {
                case 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes[at] = (byte)random.Next(256); break;
                case 2: bytes.RemoveRange(at, bytes.Count - at); break;
                case 3: bytes.Insert(at, (byte)random.Next(256)); break;
                default: bytes.RemoveAt(at); break;
            }
        }
        return [.. bytes];
    }

    private static void Mutate(byte[] valid, byte[] into, Random random)
    {
        valid.CopyTo(into, 0);
        into[random.Next(into.Length)] ^= (byte)(1 << random.Next(8));
    }
}
