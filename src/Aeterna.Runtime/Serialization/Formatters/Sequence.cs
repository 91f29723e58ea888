using System.Runtime.CompilerServices;

namespace Aeterna.Serialization.Formatters;

/// <summary>
/// The array wire type (<c>Array</c> + element: int32 count, -1 for null, then the elements) shared
/// by every sequence formatter: arrays, lists, sets, queues, immutable arrays.
/// </summary>
internal static class Sequence<T, TFormatter> where TFormatter : IRelayFormatter<T>
{
    public static readonly byte[] WireType = Element<T, TFormatter>.Prefixed(RelayWireType.Array);

    /// <summary>The count announced by the data (-1 for null), checked against the bytes left.</summary>
    public static int ReadCount(ref RelayReader reader, ReadOnlySpan<byte> element) =>
        reader.ReadCount(RelayWireType.MinSize(element), "an array");

    /// <summary>Reads <paramref name="items"/>.Length elements written as <paramref name="element"/>.</summary>
    public static void ReadItems(ref RelayReader reader, Span<T> items, ReadOnlySpan<byte> element)
    {
        if (element.SequenceEqual(TFormatter.WireType))
        {
            for (int i = 0; i < items.Length; i++) items[i] = TFormatter.Read(ref reader);
        }
        else
        {
            for (int i = 0; i < items.Length; i++) items[i] = TFormatter.ReadConverted(ref reader, element);
        }
    }

    public static void WriteItems(ref RelayWriter writer, ReadOnlySpan<T> items)
    {
        writer.WriteUnmanaged(items.Length);
        foreach (var item in items) TFormatter.Write(ref writer, item);
    }

    /// <summary>An array read from data written as <paramref name="source"/> (<c>Array</c> + element), or null.</summary>
    public static T[]? ReadArray(ref RelayReader reader, ReadOnlySpan<byte> source)
    {
        var element = source[1..];
        int count = ReadCount(ref reader, element);
        if (count < 0) return null;
        var array = new T[count];
        ReadItems(ref reader, array, element);
        return array;
    }
}

/// <summary>Sequences of fixed-size numbers: one block copy each way.</summary>
internal static class UnmanagedSequence<T, TFormatter>
    where T : unmanaged
    where TFormatter : IRelayFormatter<T>
{
    public static void WriteItems(ref RelayWriter writer, ReadOnlySpan<T> items)
    {
        writer.WriteUnmanaged(items.Length);
        writer.WriteUnmanagedSpan(items);
    }

    /// <summary>An array read as one block (source is the formatter's own wire type), or null.</summary>
    public static T[]? ReadArray(ref RelayReader reader)
    {
        int count = reader.ReadCount(Unsafe.SizeOf<T>(), "an array");
        if (count < 0) return null;
        // Every element is overwritten at once: skip zeroing the array.
        var array = GC.AllocateUninitializedArray<T>(count);
        reader.ReadUnmanagedSpan<T>(array);
        return array;
    }
}
