using System.Globalization;
using System.Runtime.InteropServices;
using Aeterna;

namespace AeternaAgent;

/// <summary>
/// Embeddings of message texts, computed once and kept: rows of <see cref="Embedder.Dimensions"/>
/// floats in a <see cref="RelayMemory{T}"/>. That is a memfd: at a relay the next generation maps
/// the same pages, so the cache crosses by file descriptor, nothing copied or recomputed, whether
/// it holds a megabyte or a gigabyte (with a real model, that is GPU time saved).
/// </summary>
/// <remarks>
/// A ring: when every row is taken, the oldest entry makes room. Not thread-safe on its own:
/// <see cref="AgentMemory"/>'s lock guards it. Memory is allocated at the first use, not in the
/// constructor, so the instances the runtime creates to read state into cost nothing.
/// </remarks>
public sealed partial class EmbeddingCache
{
    /// <summary>Rows when the cache is first allocated: AGENT_CACHE_ROWS, default 4096 (4 MiB).</summary>
    public static int DefaultCapacity { get; } =
        int.TryParse(Environment.GetEnvironmentVariable("AGENT_CACHE_ROWS"), NumberStyles.None, CultureInfo.InvariantCulture, out int rows) && rows > 0 ? rows : 4096;

    [RelayState] private RelayMemory<float>? _vectors;   // capacity × dimensions
    [RelayState] private RelayMemory<ulong>? _rowKeys;   // the text hash each row holds; 0: free
    [RelayState] private Dictionary<ulong, int> _rows = new();
    [RelayState] private int _dimensions;
    [RelayState] private int _next;
    [RelayState] private long _hits;
    [RelayState] private long _misses;

    public int Count => _rows.Count;

    public int Capacity => _vectors is null || _dimensions == 0 ? 0 : (int)(_vectors.Length / _dimensions);

    public long Hits => _hits;

    public long Misses => _misses;

    /// <summary>The embedding of <paramref name="text"/>; valid until the next call (which may reuse its row).</summary>
    public ReadOnlySpan<float> Get(string text)
    {
        EnsureAllocated();
        ulong key = Embedder.Hash(text) | 1; // never 0, which marks a free row
        int dims = _dimensions;
        if (_rows.TryGetValue(key, out int row))
        {
            _hits++;
            return _vectors!.ReadOnlySlice((long)row * dims, dims);
        }
        _misses++;
        int capacity = Capacity;
        row = _next < capacity ? _next : 0;
        _next = (row + 1) % capacity;
        ref ulong owner = ref _rowKeys![row];
        if (owner != 0) _rows.Remove(owner);
        var vector = _vectors!.Slice((long)row * dims, dims);
        Embedder.Embed(text, vector);
        owner = key;
        _rows[key] = row;
        return vector;
    }

    /// <summary>CRC-32C of the rows in use: equal before and after a relay when the cache crossed intact.</summary>
    public uint Checksum()
    {
        if (_vectors is null || _rows.Count == 0) return 0;
        uint crc = ~0u;
        // Rows are filled from 0 up, so the rows in use are the first Count ones.
        long floats = (long)_rows.Count * _dimensions;
        for (long start = 0; start < floats; start += 1 << 16)
        {
            var bytes = MemoryMarshal.AsBytes(_vectors.ReadOnlySlice(start, (int)Math.Min(1 << 16, floats - start)));
            for (int i = 0; i + 8 <= bytes.Length; i += 8) crc = System.Numerics.BitOperations.Crc32C(crc, MemoryMarshal.Read<ulong>(bytes[i..]));
        }
        return ~crc;
    }

    public long Bytes => (_vectors?.ByteLength ?? 0) + (_rowKeys?.ByteLength ?? 0);

    private void EnsureAllocated()
    {
        // A version with other dimensions (or a cache from nowhere) starts afresh: it is only a cache.
        if (_vectors is not null && _rowKeys is not null && _dimensions == Embedder.Dimensions
            && _vectors.Length == _rowKeys.Length * _dimensions && _vectors.Length > 0)
            return;
        _vectors?.Dispose();
        _rowKeys?.Dispose();
        _vectors = RelayMemory<float>.Allocate((long)DefaultCapacity * Embedder.Dimensions, "embeddings");
        _rowKeys = RelayMemory<ulong>.Allocate(DefaultCapacity, "embedding-keys");
        _dimensions = Embedder.Dimensions;
        _rows.Clear();
        _next = 0;
    }
}
