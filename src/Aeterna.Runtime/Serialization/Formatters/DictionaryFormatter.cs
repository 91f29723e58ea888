using System.ComponentModel;

namespace Aeterna.Serialization.Formatters;

/// <summary>
/// <see cref="Dictionary{TKey, TValue}"/>: <c>Map</c> + key type + value type; int32 count (-1 for
/// null), then key, value, key, value, …. Read into the member's existing dictionary when it has
/// one (<see cref="ReadInto"/>), so a comparer given by the initializer survives the relay.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct DictionaryFormatter<TKey, TValue, TKeyFormatter, TValueFormatter> : IRelayFormatter<Dictionary<TKey, TValue>?>
    where TKey : notnull
    where TKeyFormatter : IRelayFormatter<TKey>
    where TValueFormatter : IRelayFormatter<TValue>
{
    private static readonly byte[] s_wireType = [RelayWireType.Map, .. TKeyFormatter.WireType, .. TValueFormatter.WireType];

    /// <inheritdoc/>
    public static ReadOnlySpan<byte> WireType => s_wireType;

    /// <inheritdoc/>
    public static void Write(ref RelayWriter writer, Dictionary<TKey, TValue>? value)
    {
        if (value is null)
        {
            writer.WriteUnmanaged(-1);
            return;
        }
        writer.WriteUnmanaged(value.Count);
        foreach (var (key, item) in value)
        {
            TKeyFormatter.Write(ref writer, key);
            TValueFormatter.Write(ref writer, item);
        }
    }

    /// <inheritdoc/>
    public static Dictionary<TKey, TValue>? Read(ref RelayReader reader) => ReadInto(ref reader, s_wireType, null);

    /// <inheritdoc/>
    public static Dictionary<TKey, TValue>? ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => ReadInto(ref reader, source, null);

    /// <summary>Reads into <paramref name="existing"/> (cleared first) when not null, else into a new dictionary.</summary>
    public static Dictionary<TKey, TValue>? ReadInto(ref RelayReader reader, ReadOnlySpan<byte> source, Dictionary<TKey, TValue>? existing)
    {
        int keyLength = RelayWireType.Length(source[1..]);
        var keyType = source.Slice(1, keyLength);
        var valueType = source[(1 + keyLength)..];
        bool exactKey = keyType.SequenceEqual(TKeyFormatter.WireType);
        bool exactValue = valueType.SequenceEqual(TValueFormatter.WireType);
        int count = reader.ReadCount(RelayWireType.MinSize(keyType) + RelayWireType.MinSize(valueType), "a map");
        if (count < 0) return null;
        var dictionary = existing ?? new Dictionary<TKey, TValue>(count);
        dictionary.Clear();
        dictionary.EnsureCapacity(count);
        for (int i = 0; i < count; i++)
        {
            var key = Element<TKey, TKeyFormatter>.Read(ref reader, keyType, exactKey);
            if (key is null) throw new RelayFormatException($"a map key is null (entry {i} of {count})");
            dictionary[key] = Element<TValue, TValueFormatter>.Read(ref reader, valueType, exactValue);
        }
        return dictionary;
    }
}
