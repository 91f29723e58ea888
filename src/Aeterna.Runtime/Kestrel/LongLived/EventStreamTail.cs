namespace Aeterna.Kestrel.LongLived;

/// <summary>
/// The last bytes written to a response, enough to tell whether a <c>text/event-stream</c> stands
/// between events: an event ends with a blank line, two line ends in a row (CRLF, LF or CR each).
/// </summary>
internal struct EventStreamTail
{
    private uint _last;
    private int _known;
    private bool _unknown;

    public void Append(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;
        _unknown = false;
        foreach (byte b in bytes.Length > 4 ? bytes[^4..] : bytes) _last = (_last << 8) | b;
        _known = Math.Min(4, _known + bytes.Length);
    }

    /// <summary>Bytes were written that were not seen (a file sent by the server).</summary>
    public void Unknown() => _unknown = true;

    /// <summary>Nothing written yet, or the last bytes end an event.</summary>
    public readonly bool AtEventBoundary
    {
        get
        {
            if (_unknown) return false;
            if (_known == 0) return true;
            Span<byte> tail = stackalloc byte[4];
            for (int k = 0; k < _known; k++) tail[k] = (byte)(_last >> (8 * (_known - 1 - k)));
            int end = _known;
            return TakeLineEnd(tail, ref end) && TakeLineEnd(tail, ref end);
        }
    }

    private static bool TakeLineEnd(ReadOnlySpan<byte> tail, ref int end)
    {
        if (end >= 1 && tail[end - 1] == (byte)'\n')
        {
            end--;
            if (end >= 1 && tail[end - 1] == (byte)'\r') end--;
            return true;
        }
        if (end >= 1 && tail[end - 1] == (byte)'\r')
        {
            end--;
            return true;
        }
        return false;
    }
}
