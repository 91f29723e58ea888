using System.Buffers.Binary;
using System.Text;
using Aeterna.Interop;
using Aeterna.Protocol;
using Aeterna.Runtime.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;

namespace Aeterna.Runtime.Tests.Protocol;

/// <summary>
/// The CONNECTIONS frame: its records round-trip, every check of the format refuses what it must,
/// random and mutated payloads only ever decode or fail with the protocol's own error, and the fd
/// limit drops fds in the kernel (CMSG_LEN room) so that only the records past it lose their socket.
/// </summary>
public sealed class ConnectionRecordTests(ITestOutputHelper output)
{
    private static readonly int Scale = int.TryParse(Environment.GetEnvironmentVariable("AETERNA_FUZZ_SCALE"), out int s) && s > 0 ? s : 1;

    private static ConnectionRecord Sample(ulong id, int readAhead = 5, int session = 9) =>
        new(id, (byte)ConnectionKind.Raw, "lines", Fill(readAhead, 1), ReadOnlyMemory<byte>.Empty, Fill(session, 2));

    private static byte[] Fill(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static byte[] Encode(params ConnectionRecord[] records)
    {
        var payload = new byte[records.Sum(r => r.EncodedLength)];
        int at = 0;
        foreach (var record in records) at += record.Write(payload.AsSpan(at));
        Assert.Equal(payload.Length, at);
        return payload;
    }

    [Fact]
    public void Records_round_trip_with_every_field()
    {
        var records = new[]
        {
            Sample(1),
            new ConnectionRecord(ulong.MaxValue, (byte)ConnectionKind.WebSocket, "/sessions/{id}/ws", Fill(300, 3), Fill(8, 4), Fill(70_000, 5)),
            new ConnectionRecord(7, 200, new string('é', 127), ReadOnlyMemory<byte>.Empty, ReadOnlyMemory<byte>.Empty, ReadOnlyMemory<byte>.Empty),
        };
        var parsed = ConnectionRecord.ParseFrame(Encode(records), records.Length);
        Assert.Equal(records.Length, parsed.Length);
        for (int i = 0; i < records.Length; i++)
        {
            Assert.Equal(records[i].Id, parsed[i].Id);
            Assert.Equal(records[i].Kind, parsed[i].Kind);
            Assert.Equal(records[i].Endpoint, parsed[i].Endpoint);
            Assert.True(records[i].ReadAhead.Span.SequenceEqual(parsed[i].ReadAhead.Span));
            Assert.True(records[i].Framing.Span.SequenceEqual(parsed[i].Framing.Span));
            Assert.True(records[i].Session.Span.SequenceEqual(parsed[i].Session.Span));
        }
    }

    [Fact]
    public void An_endpoint_name_that_cannot_travel_is_refused_when_writing()
    {
        Assert.Throws<ArgumentException>(() => (Sample(1) with { Endpoint = "" }).EncodedLength);
        Assert.Throws<ArgumentException>(() => (Sample(1) with { Endpoint = new string('x', 256) }).EncodedLength);
    }

    public static TheoryData<string, Func<byte[], byte[]>, int, string> Broken => new()
    {
        { "no fd", p => p, 0, "no file descriptor" },
        { "fewer records than fds", p => p, 3, "complete records" },
        { "more records than fds", p => p, 1, "bytes after" },
        { "reserved byte", p => Set(p, 10, 1), 2, "reserved" },
        { "empty name", p => Set(p, 9, 0), 2, "empty endpoint" },
        { "read_ahead past the frame", p => SetU32(p, 12, 1_000_000), 2, "left in its frame" },
        { "session past the frame", p => SetU32(p, 20, uint.MaxValue), 2, "left in its frame" },
        { "name past the frame", p => Set(p, 9, 255), 2, "left in its frame" },
        { "name not UTF-8", p => Set(p, 24, 0xff), 2, "not valid UTF-8" },
        { "cut short", p => p[..^1], 2, "left in its frame" },
        { "trailing byte", p => [.. p, 0], 2, "bytes after" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void Every_broken_frame_is_malformed(string what, Func<byte[], byte[]> change, int fds, string message)
    {
        var payload = change(Encode(Sample(1), Sample(2)));
        var e = Assert.Throws<ProtocolException>(() => ConnectionRecord.ParseFrame(payload, fds));
        Assert.True(e.Error == ProtocolError.Malformed, what);
        Assert.Contains(message, e.Message);
    }

    private static byte[] Set(byte[] p, int at, byte value)
    {
        p[at] = value;
        return p;
    }

    private static byte[] SetU32(byte[] p, int at, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(at), value);
        return p;
    }

    [Fact]
    public void An_unknown_kind_parses_so_that_only_its_connection_is_refused()
    {
        var parsed = ConnectionRecord.ParseFrame(Encode(Sample(1) with { Kind = 99 }), 1);
        Assert.Equal(99, parsed[0].Kind);
    }

    [Fact]
    public void The_tally_refuses_repeated_ids_and_totals_that_disagree()
    {
        var one = Encode(Sample(1));
        var tally = new ConnectionTally(2, one.Length * 2);
        tally.Add(ConnectionRecord.ParseFrame(one, 1), one.Length);
        Assert.Contains("twice", Assert.Throws<ProtocolException>(() => tally.Add(ConnectionRecord.ParseFrame(one, 1), one.Length)).Message);

        var short1 = new ConnectionTally(2, one.Length * 2);
        short1.Add(ConnectionRecord.ParseFrame(one, 1), one.Length);
        Assert.Equal(ProtocolError.Malformed, Assert.Throws<ProtocolException>(() => short1.Finish(2)).Error);
        Assert.Equal(ProtocolError.Malformed, Assert.Throws<ProtocolException>(() => short1.Finish(1)).Error);

        var over = new ConnectionTally(1, one.Length);
        over.Add(ConnectionRecord.ParseFrame(one, 1), one.Length);
        var two = Encode(Sample(2));
        Assert.Contains("more than the 1 connections", Assert.Throws<ProtocolException>(() => over.Add(ConnectionRecord.ParseFrame(two, 1), two.Length)).Message);
        over.Finish(1);

        Assert.Equal(ProtocolError.TooLarge, Assert.Throws<ProtocolException>(() => new ConnectionTally(ConnectionTally.MaxConnections + 1, 0)).Error);
        Assert.Equal(ProtocolError.Malformed, Assert.Throws<ProtocolException>(() => new ConnectionTally(0, 10)).Error);
    }

    [Fact]
    public void Packing_respects_the_frame_size_and_the_fd_limit_and_sets_aside_a_record_too_large_for_any_frame()
    {
        var records = Enumerable.Range(0, 150).Select(i => Sample((ulong)i, readAhead: i, session: 100)).ToList();
        records.Insert(10, Sample(1000, readAhead: 5000));
        var tooLarge = new List<int>();
        var frames = ConnectionFrames.Pack(records, maxFrame: 4096, tooLarge);
        Assert.Equal([10], tooLarge);
        Assert.All(frames, f => Assert.InRange(f.Payload.Length, 1, 4096));
        Assert.All(frames, f => Assert.InRange(f.Records.Count, 1, FrameHeader.MaxFds));
        var ids = frames.SelectMany(f => ConnectionRecord.ParseFrame(f.Payload, f.Records.Count)).Select(r => r.Id).ToList();
        Assert.Equal(records.Where((_, i) => i != 10).Select(r => r.Id), ids);
    }

    [Fact]
    public void Random_and_mutated_frames_decode_or_fail_with_the_protocols_error_and_allocate_no_more_than_their_size()
    {
        var random = new Random(21);
        var valid = Encode(Sample(1), new ConnectionRecord(2, 2, "/ws", Fill(40, 6), Fill(8, 7), Fill(30, 8)), Sample(3));
        int decoded = 0, iterations = 300_000 * Scale;
        long allocated = 0;
        for (int i = 0; i < iterations; i++)
        {
            byte[] input = i % 4 == 0 ? Fill(random.Next(0, 128), i) : Mutated(valid, random);
            int fds = i % 7 == 0 ? random.Next(0, 65) : 3;
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                var records = ConnectionRecord.ParseFrame(input, fds);
                Assert.Equal(fds, records.Length);
                Assert.All(records, r => Assert.InRange(Encoding.UTF8.GetByteCount(r.Endpoint), 1, 255));
                Assert.Equal(input.Length, (int)records.Sum(r => r.EncodedLength));
                decoded++;
            }
            catch (ProtocolException e) when (e.Error == ProtocolError.Malformed) { }
            allocated = Math.Max(allocated, GC.GetAllocatedBytesForCurrentThread() - before - input.Length);
        }
        output.WriteLine($"{iterations} frames, {decoded} decoded; at most {allocated} bytes allocated beyond an input");
        Assert.True(decoded > 0, "no mutation decoded: the fuzzer does not reach the accepting path");
        // The records array (at most 64 entries) and the error message, never a length read from the input.
        Assert.True(allocated < 64 * 1024, $"one input made the decoder allocate {allocated} bytes");
    }

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

    [Fact]
    public async Task Past_the_fd_budget_the_kernel_drops_the_fds_and_only_those_records_lose_their_socket()
    {
        using var pair = new ChannelPair();
        var sockets = Enumerable.Range(0, 10).Select(_ => new SafeFileHandle(Libc.CreateMemoryFile("conn", 1), ownsHandle: true)).ToList();
        try
        {
            var first = Encode([.. Enumerable.Range(0, 7).Select(i => Sample((ulong)i))]);
            var second = Encode([.. Enumerable.Range(7, 3).Select(i => Sample((ulong)i))]);
            await pair.Left.SendAsync(FrameType.Connections, first, sockets.Take(7).ToList());
            await pair.Left.SendAsync(FrameType.Connections, second, sockets.Skip(7).ToList());
            await pair.Left.SendAsync(FrameType.StateEnd, new StateEndMessage(0, 0, 10), ProtocolJson.Default.StateEndMessage);
            pair.Right.FdBudget = 5; // an odd count: CMSG_SPACE would have admitted a sixth
            using (var frame = await pair.Right.ReceiveAsync(FrameType.Connections))
            {
                Assert.Equal(7, frame.FdCount);
                Assert.All(Enumerable.Range(0, 5), i => Assert.True(frame.HasFd(i)));
                Assert.False(frame.HasFd(5));
                Assert.False(frame.HasFd(6));
            }
            Assert.Equal(0, pair.Right.FdBudget);
            using (var frame = await pair.Right.ReceiveAsync(FrameType.Connections))
                Assert.All(Enumerable.Range(0, 3), i => Assert.False(frame.HasFd(i)));
            using (var end = await pair.Right.ReceiveAsync(FrameType.StateEnd))
                Assert.Equal(10, end.Read(ProtocolJson.Default.StateEndMessage).Connections);
        }
        finally
        {
            foreach (var socket in sockets) socket.Dispose();
        }
    }

    [Fact]
    public async Task A_frame_other_than_connections_whose_fds_were_dropped_breaks_the_stream()
    {
        using var pair = new ChannelPair();
        using var memory = new SafeFileHandle(Libc.CreateMemoryFile("region", 4096), ownsHandle: true);
        await pair.Left.SendAsync(FrameType.StateRegions, ReadOnlyMemory<byte>.Empty, [memory, memory]);
        pair.Right.FdBudget = 1;
        var e = await Assert.ThrowsAsync<ProtocolException>(() => pair.Right.ReceiveAsync());
        Assert.Equal(ProtocolError.Malformed, e.Error);
        Assert.Contains("fd limit", e.Message);
    }
}
