using System.Collections.Immutable;
using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Aeterna.Serialization.Formatters;

/// <summary><see cref="ImmutableArray{T}"/>: the array wire type; a default (uninitialised) array is written as null.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct ImmutableArrayFormatter<T, TFormatter> : IRelayFormatter<ImmutableArray<T>> where TFormatter : IRelayFormatter<T>
{
    /// <inheritdoc/>
    public static ReadOnlySpan<byte> WireType => Sequence<T, TFormatter>.WireType;

    /// <inheritdoc/>
    public static void Write(ref RelayWriter writer, ImmutableArray<T> value)
    {
        if (value.IsDefault) writer.WriteUnmanaged(-1);
        else Sequence<T, TFormatter>.WriteItems(ref writer, value.AsSpan());
    }

    /// <inheritdoc/>
    public static ImmutableArray<T> Read(ref RelayReader reader) => ReadConverted(ref reader, WireType);

    /// <inheritdoc/>
    public static ImmutableArray<T> ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) =>
        ImmutableCollectionsMarshal.AsImmutableArray(Sequence<T, TFormatter>.ReadArray(ref reader, source));
}

/// <summary><see cref="ImmutableArray{T}"/> of fixed-size numbers: copied as one block.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct UnmanagedImmutableArrayFormatter<T, TFormatter> : IRelayFormatter<ImmutableArray<T>>
    where T : unmanaged
    where TFormatter : IRelayFormatter<T>
{
    /// <inheritdoc/>
    public static ReadOnlySpan<byte> WireType => Sequence<T, TFormatter>.WireType;

    /// <inheritdoc/>
    public static void Write(ref RelayWriter writer, ImmutableArray<T> value)
    {
        if (value.IsDefault) writer.WriteUnmanaged(-1);
        else UnmanagedSequence<T, TFormatter>.WriteItems(ref writer, value.AsSpan());
    }

    /// <inheritdoc/>
    public static ImmutableArray<T> Read(ref RelayReader reader) =>
        ImmutableCollectionsMarshal.AsImmutableArray(UnmanagedSequence<T, TFormatter>.ReadArray(ref reader));

    /// <inheritdoc/>
    public static ImmutableArray<T> ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) =>
        ImmutableCollectionsMarshal.AsImmutableArray(Sequence<T, TFormatter>.ReadArray(ref reader, source));
}
