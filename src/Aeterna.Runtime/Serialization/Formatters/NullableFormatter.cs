using System.ComponentModel;

namespace Aeterna.Serialization.Formatters;

/// <summary><see cref="Nullable{T}"/>: a byte (0 null, 1 value), then the value. Reads a plain <typeparamref name="T"/> too.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct NullableFormatter<T, TFormatter> : IRelayFormatter<T?>
    where T : struct
    where TFormatter : IRelayFormatter<T>
{
    private static readonly byte[] s_wireType = Element<T, TFormatter>.Prefixed(RelayWireType.Nullable);

    /// <inheritdoc/>
    public static ReadOnlySpan<byte> WireType => s_wireType;

    /// <inheritdoc/>
    public static void Write(ref RelayWriter writer, T? value)
    {
        writer.WriteBool(value.HasValue);
        if (value.HasValue) TFormatter.Write(ref writer, value.GetValueOrDefault());
    }

    /// <inheritdoc/>
    public static T? Read(ref RelayReader reader) => reader.ReadBool() ? TFormatter.Read(ref reader) : null;

    /// <inheritdoc/>
    public static T? ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source)
    {
        if (source[0] != RelayWireType.Nullable)
            return Element<T, TFormatter>.Read(ref reader, source, source.SequenceEqual(TFormatter.WireType));
        if (!reader.ReadBool()) return null;
        var inner = source[1..];
        return Element<T, TFormatter>.Read(ref reader, inner, inner.SequenceEqual(TFormatter.WireType));
    }
}
