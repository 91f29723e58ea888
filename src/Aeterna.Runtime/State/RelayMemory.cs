using System.Runtime.CompilerServices;
using Aeterna.State;

namespace Aeterna;

/// <summary>
/// A buffer of unmanaged values in shared memory, for big state: embeddings, KV caches, vector
/// indexes. At a relay its file descriptor goes to the new generation, which maps the same pages:
/// nothing is copied, so the hand-over costs the same for a kilobyte and for a gigabyte.
/// </summary>
/// <remarks>
/// <para>Backed by a memfd whose size is sealed. Pages are allocated as they are first written.</para>
/// <para>After the hand-over the old generation's view is read-only: the accessors throw
/// <see cref="InvalidOperationException"/>, and a write through a span taken earlier faults
/// instead of silently changing the new generation's data. If the relay rolls back, the old
/// generation gets the region back as the new one left it (the pages are shared).</para>
/// <para>Without a supervisor it is an ordinary buffer; <see cref="Dispose"/> releases it.</para>
/// </remarks>
/// <typeparam name="T">An unmanaged element type such as <see cref="float"/>.</typeparam>
public sealed class RelayMemory<T> : IDisposable where T : unmanaged
{
    private RelayMemory(MemoryRegion region)
    {
        Region = region;
        Length = region.ByteLength / Unsafe.SizeOf<T>();
    }

    /// <summary>Allocates <paramref name="length"/> zeroed elements.</summary>
    /// <param name="length">Number of elements.</param>
    /// <param name="name">A name for diagnostics (visible in /proc/PID/fd).</param>
    public static RelayMemory<T> Allocate(long length, string? name = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        long bytes = checked(length * Unsafe.SizeOf<T>());
        return new RelayMemory<T>(MemoryRegion.Create(name ?? typeof(T).Name, bytes));
    }

    /// <summary>Number of elements.</summary>
    public long Length { get; }

    /// <summary>Size in bytes.</summary>
    public long ByteLength => Region.ByteLength;

    /// <summary>True once this generation has handed the memory over: it may read but not write.</summary>
    public bool IsReadOnly => Region.ReadOnly;

    internal MemoryRegion Region { get; }

    /// <summary>The element at <paramref name="index"/>.</summary>
    public ref T this[long index]
    {
        get
        {
            if ((ulong)index >= (ulong)Length) throw new ArgumentOutOfRangeException(nameof(index));
            return ref Slice(index, 1)[0];
        }
    }

    /// <summary>All elements; throws when there are more than <see cref="int.MaxValue"/> (use <see cref="Slice"/>).</summary>
    public Span<T> Span => Length <= int.MaxValue
        ? Slice(0, (int)Length)
        : throw new InvalidOperationException($"{Length} elements do not fit one span; use Slice(start, length)");

    /// <summary>Elements <paramref name="start"/> to <paramref name="start"/> + <paramref name="length"/>.</summary>
    public Span<T> Slice(long start, int length)
    {
        ThrowIfReadOnly();
        return ReadOnlySlice(start, length).UnsafeAsWritable();
    }

    /// <summary>Elements for reading; allowed after the hand-over too.</summary>
    public ReadOnlySpan<T> ReadOnlySlice(long start, int length)
    {
        if (start < 0 || length < 0 || start + length > Length) throw new ArgumentOutOfRangeException(nameof(start));
        var bytes = Region.Bytes(start * Unsafe.SizeOf<T>(), checked(length * Unsafe.SizeOf<T>()));
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(bytes);
    }

    /// <summary>Releases the mapping and the memfd.</summary>
    public void Dispose() => Region.Dispose();

    /// <summary>Wraps a region received from the previous generation.</summary>
    internal static RelayMemory<T> FromRegion(MemoryRegion region)
    {
        if (region.ByteLength % Unsafe.SizeOf<T>() != 0)
            throw new RelayFormatException($"memory region '{region.Name}' is {region.ByteLength} bytes, not a whole number of {typeof(T).Name} elements ({Unsafe.SizeOf<T>()} bytes each)");
        return new RelayMemory<T>(region);
    }

    /// <summary>A new region holding a copy of <paramref name="bytes"/> (state stored inline, e.g. in a checkpoint file).</summary>
    internal static RelayMemory<T> FromBytes(ReadOnlySpan<byte> bytes, string? name = null)
    {
        if (bytes.Length % Unsafe.SizeOf<T>() != 0)
            throw new RelayFormatException($"{bytes.Length} bytes are not a whole number of {typeof(T).Name} elements ({Unsafe.SizeOf<T>()} bytes each)");
        var memory = Allocate(bytes.Length / Unsafe.SizeOf<T>(), name);
        bytes.CopyTo(memory.Region.Bytes(0, bytes.Length));
        return memory;
    }

    private void ThrowIfReadOnly()
    {
        if (Region.ReadOnly)
            throw new InvalidOperationException("this RelayMemory was handed over to the next generation and is read-only here: the app must not change state after it froze");
    }
}

internal static class SpanExtensions
{
    /// <summary>The same memory as writable; only for memory this type owns.</summary>
    public static Span<T> UnsafeAsWritable<T>(this ReadOnlySpan<T> span) =>
        System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(span), span.Length);
}
