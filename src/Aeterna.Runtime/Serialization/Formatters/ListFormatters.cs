using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Aeterna.Serialization.Formatters;

/// <summary><see cref="List{T}"/>: the array wire type.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct ListFormatter<T, TFormatter> : IRelayFormatter<List<T>?> where TFormatter : IRelayFormatter<T>
{
    /// <inheritdoc/>
    public static ReadOnlySpan<byte> WireType => Sequence<T, TFormatter>.WireType;

    /// <inheritdoc/>
    public static void Write(ref RelayWriter writer, List<T>? value)
    {
        if (value is null) writer.WriteUnmanaged(-1);
        else Sequence<T, TFormatter>.WriteItems(ref writer, CollectionsMarshal.AsSpan(value));
    }

    /// <inheritdoc/>
    public static List<T>? Read(ref RelayReader reader) => ReadConverted(ref reader, WireType);

    /// <inheritdoc/>
    public static List<T>? ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source)
    {
        var element = source[1..];
        int count = Sequence<T, TFormatter>.ReadCount(ref reader, element);
        if (count < 0) return null;
        var list = new List<T>(count);
        CollectionsMarshal.SetCount(list, count);
        Sequence<T, TFormatter>.ReadItems(ref reader, CollectionsMarshal.AsSpan(list), element);
        return list;
    }
}

/// <summary><see cref="List{T}"/> of fixed-size numbers: copied as one block.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct UnmanagedListFormatter<T, TFormatter> : IRelayFormatter<List<T>?>
    where T : unmanaged
    where TFormatter : IRelayFormatter<T>
{
    /// <inheritdoc/>
    public static ReadOnlySpan<byte> WireType => Sequence<T, TFormatter>.WireType;

    /// <inheritdoc/>
    public static void Write(ref RelayWriter writer, List<T>? value)
    {
        if (value is null) writer.WriteUnmanaged(-1);
        else UnmanagedSequence<T, TFormatter>.WriteItems(ref writer, CollectionsMarshal.AsSpan(value));
    }

    /// <inheritdoc/>
    public static List<T>? Read(ref RelayReader reader)
    {
        int count = reader.ReadCount(System.Runtime.CompilerServices.Unsafe.SizeOf<T>(), "an array");
        if (count < 0) return null;
        var list = new List<T>(count);
        CollectionsMarshal.SetCount(list, count);
        reader.ReadUnmanagedSpan(CollectionsMarshal.AsSpan(list));
        return list;
    }

    /// <inheritdoc/>
    public static List<T>? ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) =>
        ListFormatter<T, TFormatter>.ReadConverted(ref reader, source);
}
