using System.Buffers;

namespace Aeterna.State;

/// <summary>
/// Where exports (relays, checkpoints) serialize the state: a list of segments kept for the life of
/// the process. Growing never copies, and an export writes into memory earlier exports already
/// touched, so only the first one pays for fresh pages (page faults, not copying, are the
/// expensive part of moving state on these machines).
/// </summary>
internal sealed class StateBuffer : IBufferWriter<byte>
{
    /// <summary>Segments are this big unless a single write needs more.</summary>
    public const int SegmentSize = 1 << 20;

    private readonly List<byte[]> _segments = [];
    private readonly List<int> _used = [];
    private int _current = -1;
    private long _written;

    /// <summary>Bytes written since the last <see cref="Reset"/>.</summary>
    public long Written => _written;

    /// <summary>The written bytes, segment by segment, in order.</summary>
    public IEnumerable<ReadOnlyMemory<byte>> Segments
    {
        get
        {
            for (int i = 0; i <= _current; i++)
                if (_used[i] > 0) yield return _segments[i].AsMemory(0, _used[i]);
        }
    }

    public void Reset()
    {
        for (int i = 0; i < _used.Count; i++) _used[i] = 0;
        _current = _segments.Count > 0 ? 0 : -1;
        _written = 0;
    }

    public void Advance(int count)
    {
        if (count < 0 || _current < 0 || _used[_current] + count > _segments[_current].Length) throw new ArgumentOutOfRangeException(nameof(count));
        _used[_current] += count;
        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        var segment = Ensure(Math.Max(sizeHint, 1));
        return segment.AsMemory(_used[_current]);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        var segment = Ensure(Math.Max(sizeHint, 1));
        return segment.AsSpan(_used[_current]);
    }

    /// <summary>The current segment if it has room for <paramref name="size"/>; else the next one (reused, or new).</summary>
    private byte[] Ensure(int size)
    {
        if (_current >= 0 && _segments[_current].Length - _used[_current] >= size) return _segments[_current];
        // Move on: reuse the next segment when it is big enough, else put a new one in its place.
        _current++;
        if (_current < _segments.Count && _segments[_current].Length >= size) return _segments[_current];
        var segment = GC.AllocateUninitializedArray<byte>(Math.Max(size, SegmentSize));
        if (_current < _segments.Count)
        {
            _segments[_current] = segment;
            _used[_current] = 0;
        }
        else
        {
            _segments.Add(segment);
            _used.Add(0);
        }
        return segment;
    }
}
