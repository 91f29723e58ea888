using System.Buffers;
using System.ComponentModel;
using Aeterna.Serialization;

namespace Aeterna;

/// <summary>
/// Serializes the types the <c>[RelayState]</c> generator handled, without reflection: each
/// type's formatter is registered by the generated module initializer of its assembly.
/// </summary>
public static class RelaySerializer
{
    /// <summary>The bytes of <paramref name="value"/> (docs/wire-format.md).</summary>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> has no generated serializer.</exception>
    public static byte[] Serialize<T>(T value) => Serialize(value, RelayStringEncoding.Utf8);

    /// <summary>The bytes of <paramref name="value"/>, its strings in <paramref name="strings"/>.</summary>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> has no generated serializer.</exception>
    public static byte[] Serialize<T>(T value, RelayStringEncoding strings)
    {
        var buffer = RelayBuffer.Rent();
        try
        {
            Serialize(buffer, value, strings);
            return buffer.WrittenSpan.ToArray();
        }
        finally
        {
            RelayBuffer.Return(buffer);
        }
    }

    /// <summary>Writes the bytes of <paramref name="value"/> to <paramref name="output"/>.</summary>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> has no generated serializer.</exception>
    public static void Serialize<T>(IBufferWriter<byte> output, T value) => Serialize(output, value, RelayStringEncoding.Utf8);

    /// <summary>Writes the bytes of <paramref name="value"/> to <paramref name="output"/>, its strings in <paramref name="strings"/>.</summary>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> has no generated serializer.</exception>
    public static void Serialize<T>(IBufferWriter<byte> output, T value, RelayStringEncoding strings)
    {
        ArgumentNullException.ThrowIfNull(output);
        var formatter = FormatterOf<T>();
        var writer = new RelayWriter(output, null, strings);
        formatter.Write(ref writer, value);
        writer.Flush();
    }

    /// <summary>Reads a value written by <see cref="Serialize{T}(T)"/> of this or another version of <typeparamref name="T"/>.</summary>
    /// <exception cref="RelayFormatException">The data is truncated, corrupt, has bytes left over, or holds a member this version cannot read.</exception>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> has no generated serializer.</exception>
    public static T Deserialize<T>(ReadOnlySpan<byte> data)
    {
        var formatter = FormatterOf<T>();
        var reader = new RelayReader(data);
        T value = formatter.Read(ref reader);
        if (reader.Remaining != 0)
            throw new RelayFormatException($"{reader.Remaining} bytes are left over after a {typeof(T).Name} ({data.Length} bytes in all)");
        return value;
    }

    /// <summary>Reads a value from a possibly segmented sequence (copied into one span first when it has several segments).</summary>
    /// <exception cref="RelayFormatException">The data is truncated, corrupt, has bytes left over, or holds a member this version cannot read.</exception>
    public static T Deserialize<T>(in ReadOnlySequence<byte> data)
    {
        if (data.IsSingleSegment) return Deserialize<T>(data.FirstSpan);
        if (data.Length > Array.MaxLength) throw new RelayFormatException($"{data.Length} bytes do not fit one buffer");
        byte[] rented = ArrayPool<byte>.Shared.Rent((int)data.Length);
        try
        {
            data.CopyTo(rented);
            return Deserialize<T>(rented.AsSpan(0, (int)data.Length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Whether <typeparamref name="T"/> has a generated serializer.</summary>
    internal static bool IsRegistered<T>() => RelayFormatterCache<T>.Formatter is not null;

    /// <summary>Registers the formatter of <typeparamref name="T"/>; generated module initializers call this.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static void Register<T, TFormatter>() where TFormatter : IRelayFormatter<T> =>
        RelayFormatterCache<T>.Formatter ??= new RelayFormatterBox<T, TFormatter>();

    private static RelayFormatterBox<T> FormatterOf<T>() =>
        RelayFormatterCache<T>.Formatter ?? throw new InvalidOperationException(
            $"{typeof(T)} has no relay serializer. Fix: make it a partial class, struct or record with [RelayState] members " +
            "in a project that references Aeterna.Runtime (its generator registers the type at start-up).");
}
