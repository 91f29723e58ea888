using System.ComponentModel;

namespace Aeterna.Serialization.Formatters;

/// <summary>
/// <see cref="HashSet{T}"/>: the array wire type. Read into the member's existing set when it has
/// one (<see cref="ReadInto"/>), so a comparer given by the initializer survives the relay.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct HashSetFormatter<T, TFormatter> : IRelayFormatter<HashSet<T>?> where TFormatter : IRelayFormatter<T>
{
    /// <inheritdoc/>
    public static ReadOnlySpan<byte> WireType => Sequence<T, TFormatter>.WireType;

    /// <inheritdoc/>
    public static void Write(ref RelayWriter writer, HashSet<T>? value)
    {
        if (value is null)
        {
            writer.WriteUnmanaged(-1);
            return;
        }
        writer.WriteUnmanaged(value.Count);
        foreach (var item in value) TFormatter.Write(ref writer, item);
    }

    /// <inheritdoc/>
    public static HashSet<T>? Read(ref RelayReader reader) => ReadInto(ref reader, WireType, null);

    /// <inheritdoc/>
    public static HashSet<T>? ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => ReadInto(ref reader, source, null);

    /// <summary>Reads into <paramref name="existing"/> (cleared first) when not null, else into a new set.</summary>
    public static HashSet<T>? ReadInto(ref RelayReader reader, ReadOnlySpan<byte> source, HashSet<T>? existing)
    {
        var element = source[1..];
        bool exact = element.SequenceEqual(TFormatter.WireType);
        int count = Sequence<T, TFormatter>.ReadCount(ref reader, element);
        if (count < 0) return null;
        var set = existing ?? new HashSet<T>(count);
        set.Clear();
        for (int i = 0; i < count; i++) set.Add(Element<T, TFormatter>.Read(ref reader, element, exact));
        return set;
    }
}

/// <summary><see cref="Queue{T}"/>: the array wire type, head first.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct QueueFormatter<T, TFormatter> : IRelayFormatter<Queue<T>?> where TFormatter : IRelayFormatter<T>
{
    /// <inheritdoc/>
    public static ReadOnlySpan<byte> WireType => Sequence<T, TFormatter>.WireType;

    /// <inheritdoc/>
    public static void Write(ref RelayWriter writer, Queue<T>? value)
    {
        if (value is null)
        {
            writer.WriteUnmanaged(-1);
            return;
        }
        writer.WriteUnmanaged(value.Count);
        foreach (var item in value) TFormatter.Write(ref writer, item);
    }

    /// <inheritdoc/>
    public static Queue<T>? Read(ref RelayReader reader) => ReadConverted(ref reader, WireType);

    /// <inheritdoc/>
    public static Queue<T>? ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source)
    {
        var element = source[1..];
        bool exact = element.SequenceEqual(TFormatter.WireType);
        int count = Sequence<T, TFormatter>.ReadCount(ref reader, element);
        if (count < 0) return null;
        var queue = new Queue<T>(count);
        for (int i = 0; i < count; i++) queue.Enqueue(Element<T, TFormatter>.Read(ref reader, element, exact));
        return queue;
    }
}
