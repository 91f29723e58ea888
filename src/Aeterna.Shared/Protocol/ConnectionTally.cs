namespace Aeterna.Protocol;

/// <summary>
/// An importer's account of the CONNECTIONS frames of one transfer against what STATE_BEGIN
/// announced: ids never repeat, and records and bytes add up, as STATE_END repeats. Anything else
/// is a broken transfer (Malformed) and the whole import fails.
/// </summary>
internal sealed class ConnectionTally
{
    /// <summary>More connections than this in one transfer is refused before anything is received.</summary>
    public const int MaxConnections = 1 << 20;

    private readonly HashSet<ulong> _ids = [];

    public ConnectionTally(int announced, long announcedBytes)
    {
        if (announced < 0 || announcedBytes < 0)
            throw new ProtocolException(ProtocolError.Malformed, $"StateBegin announces {announced} connections of {announcedBytes} bytes");
        if (announced > MaxConnections)
            throw new ProtocolException(ProtocolError.TooLarge, $"StateBegin announces {announced} connections; at most {MaxConnections} are accepted in one transfer");
        if (announced == 0 && announcedBytes != 0)
            throw new ProtocolException(ProtocolError.Malformed, $"StateBegin announces no connection but {announcedBytes} bytes of them");
        Announced = announced;
        AnnouncedBytes = announcedBytes;
    }

    public int Announced { get; }

    public long AnnouncedBytes { get; }

    public int Received => _ids.Count;

    public long ReceivedBytes { get; private set; }

    /// <summary>Counts one frame's records (of <paramref name="payloadBytes"/> bytes in all).</summary>
    public void Add(IReadOnlyList<ConnectionRecord> records, int payloadBytes)
    {
        if (Received + records.Count > Announced)
            throw Malformed($"the exporter sent more than the {Announced} connections StateBegin announced");
        if (ReceivedBytes + payloadBytes > AnnouncedBytes)
            throw Malformed($"the exporter sent more than the {AnnouncedBytes} bytes of connections StateBegin announced");
        foreach (var record in records)
            if (!_ids.Add(record.Id))
                throw Malformed($"connection id {record.Id} came twice in one transfer");
        ReceivedBytes += payloadBytes;
    }

    /// <summary>At STATE_END: everything announced arrived, and STATE_END says the same.</summary>
    public void Finish(int stateEndConnections)
    {
        if (stateEndConnections != Announced)
            throw Malformed($"StateEnd says {stateEndConnections} connections; StateBegin said {Announced}");
        if (Received != Announced || ReceivedBytes != AnnouncedBytes)
            throw Malformed($"{Received} connections of {ReceivedBytes} bytes arrived; StateBegin announced {Announced} of {AnnouncedBytes}");
    }

    private static ProtocolException Malformed(string message) => new(ProtocolError.Malformed, message);
}
