namespace Aeterna.Protocol;

/// <summary>
/// Packs an exporter's connection records into CONNECTIONS frame payloads: at most
/// <see cref="FrameHeader.MaxFds"/> records (one fd each) and at most the importer's
/// <c>max_frame_size</c> bytes per frame, in order.
/// </summary>
internal static class ConnectionFrames
{
    /// <summary>
    /// The frames for <paramref name="records"/>: each a payload and the indexes of its records.
    /// A record that would not fit in one frame is left out and listed in <paramref name="tooLarge"/>
    /// (its exporter keeps the connection and ends it itself).
    /// </summary>
    public static List<(byte[] Payload, List<int> Records)> Pack(IReadOnlyList<ConnectionRecord> records, int maxFrame, List<int> tooLarge)
    {
        var frames = new List<(byte[], List<int>)>();
        var current = new List<int>();
        long currentBytes = 0;
        void Close()
        {
            if (current.Count == 0) return;
            var payload = new byte[currentBytes];
            int at = 0;
            foreach (int index in current) at += records[index].Write(payload.AsSpan(at));
            frames.Add((payload, current));
            current = [];
            currentBytes = 0;
        }
        for (int i = 0; i < records.Count; i++)
        {
            long length = records[i].EncodedLength;
            if (length > maxFrame)
            {
                tooLarge.Add(i);
                continue;
            }
            if (current.Count == FrameHeader.MaxFds || currentBytes + length > maxFrame) Close();
            current.Add(i);
            currentBytes += length;
        }
        Close();
        return frames;
    }
}
