using System.ComponentModel;

namespace Aeterna.Serialization.Formatters;

/// <summary><c>T[]</c>: the array wire type.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct ArrayFormatter<T, TFormatter> : IRelayFormatter<T[]?> where TFormatter : IRelayFormatter<T>
{
    /// <inheritdoc/>
    public static ReadOnlySpan<byte> WireType => Sequence<T, TFormatter>.WireType;

    /// <inheritdoc/>
    public static void Write(ref RelayWriter writer, T[]? value)
    {
        if (value is null) writer.WriteUnmanaged(-1);
        else Sequence<T, TFormatter>.WriteItems(ref writer, value);
    }

    /// <inheritdoc/>
    public static T[]? Read(ref RelayReader reader) => Sequence<T, TFormatter>.ReadArray(ref reader, WireType);

    /// <inheritdoc/>
    public static T[]? ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => Sequence<T, TFormatter>.ReadArray(ref reader, source);
}

/// <summary><c>T[]</c> of fixed-size numbers (also <c>byte[]</c>): copied as one block.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct UnmanagedArrayFormatter<T, TFormatter> : IRelayFormatter<T[]?>
    where T : unmanaged
    where TFormatter : IRelayFormatter<T>
{
    /// <inheritdoc/>
    public static ReadOnlySpan<byte> WireType => Sequence<T, TFormatter>.WireType;

    /// <inheritdoc/>
    public static void Write(ref RelayWriter writer, T[]? value)
    {
        if (value is null) writer.WriteUnmanaged(-1);
        else UnmanagedSequence<T, TFormatter>.WriteItems(ref writer, value);
    }

    /// <inheritdoc/>
    public static T[]? Read(ref RelayReader reader) => UnmanagedSequence<T, TFormatter>.ReadArray(ref reader);

    /// <inheritdoc/>
    public static T[]? ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => Sequence<T, TFormatter>.ReadArray(ref reader, source);
}

/// <summary><see cref="ReadOnlyMemory{T}"/> of bytes: the array wire type of <c>byte[]</c>; null reads as empty.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct ReadOnlyMemoryFormatter : IRelayFormatter<ReadOnlyMemory<byte>>
{
    /// <inheritdoc/>
    public static ReadOnlySpan<byte> WireType => Sequence<byte, ByteFormatter>.WireType;

    /// <inheritdoc/>
    public static void Write(ref RelayWriter writer, ReadOnlyMemory<byte> value) => UnmanagedSequence<byte, ByteFormatter>.WriteItems(ref writer, value.Span);

    /// <inheritdoc/>
    public static ReadOnlyMemory<byte> Read(ref RelayReader reader) => UnmanagedSequence<byte, ByteFormatter>.ReadArray(ref reader);

    /// <inheritdoc/>
    public static ReadOnlyMemory<byte> ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => Sequence<byte, ByteFormatter>.ReadArray(ref reader, source);
}
