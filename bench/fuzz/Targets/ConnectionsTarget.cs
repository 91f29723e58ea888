using Aeterna.Protocol;

namespace Aeterna.Fuzz.Targets;

/// <summary>
/// The CONNECTIONS record decoder (ConnectionRecord.ParseFrame) and the transfer's tally of them
/// (ConnectionTally): the first input byte is the frame's fd count (0..64), the second the number
/// of connections STATE_BEGIN announced, the rest one or more frames' payloads, each behind a
/// two-byte little-endian length.
/// </summary>
internal sealed class ConnectionsTarget : FuzzTarget
{
    public override string Name => "connections";

    public override string Decoder => "ConnectionRecord.ParseFrame + ConnectionTally";

    public override int MaxLength => 8192;

    public override void Decode(ReadOnlySpan<byte> input)
    {
        if (input.Length < 2) return;
        int fds = input[0] % (FrameHeader.MaxFds + 1);
        int announced = input[1];
        var rest = input[2..];
        // The bytes STATE_BEGIN announced: every payload's, as an honest exporter counts them.
        long announcedBytes = 0;
        for (var scan = rest; scan.Length >= 2;)
        {
            int length = Math.Min(scan[0] | scan[1] << 8, scan.Length - 2);
            announcedBytes += length;
            scan = scan[(2 + length)..];
        }
        var tally = new ConnectionTally(announced, announced == 0 ? 0 : announcedBytes);
        while (rest.Length >= 2)
        {
            int length = Math.Min(rest[0] | rest[1] << 8, rest.Length - 2);
            var payload = rest.Slice(2, length).ToArray();
            rest = rest[(2 + length)..];
            var records = ConnectionRecord.ParseFrame(payload, fds);
            if (records.Length != fds)
                throw new FuzzFinding($"ParseFrame returned {records.Length} records for {fds} fds");
            long sum = 0;
            foreach (var record in records)
            {
                if (record.Endpoint.Length is 0 or > ConnectionRecord.MaxEndpointBytes)
                    throw new FuzzFinding($"ParseFrame accepted an endpoint name of {record.Endpoint.Length} chars");
                sum += record.EncodedLength;
            }
            if (sum != payload.Length)
                throw new FuzzFinding($"ParseFrame's records take {sum} bytes of a {payload.Length}-byte payload");
            tally.Add(records, payload.Length);
        }
        tally.Finish(announced);
    }

    public override bool IsRefusal(Exception error) => error is ProtocolException;

    public override IEnumerable<byte[]> Seeds()
    {
        ConnectionRecord[] records =
        [
            new(1, (byte)ConnectionKind.WebSocket, "chat", new byte[] { 0x81, 0x85 }, new byte[] { 1, 0, 0, 0 }, new byte[] { 9, 9, 9 }),
            new(2, (byte)ConnectionKind.WebSocket, "chat", default, default, new byte[] { 1 }),
            new(3, 0x7f, "stream", new byte[] { 1, 2, 3 }, default, default),
        ];
        foreach (int count in new[] { 1, 2, 3 })
        {
            var frames = ConnectionFrames.Pack(records[..count], 1 << 20, []);
            var seed = new List<byte> { (byte)count, (byte)count };
            foreach (var (payload, _) in frames)
            {
                seed.Add((byte)payload.Length);
                seed.Add((byte)(payload.Length >> 8));
                seed.AddRange(payload);
            }
            yield return [.. seed];
        }
    }
}
