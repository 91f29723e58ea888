using System.ComponentModel;

namespace Aeterna.Serialization.Formatters;

/// <summary>
/// <see cref="RelayMemory{T}"/>: <c>Memory</c> + element type. During a relay only a reference to
/// the memfd that travels beside the state; otherwise the bytes inline (RelayWriter.WriteMemory).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct RelayMemoryFormatter<T, TFormatter> : IRelayFormatter<RelayMemory<T>?>
    where T : unmanaged
    where TFormatter : IRelayFormatter<T>
{
    private static readonly byte[] s_wireType = Element<T, TFormatter>.Prefixed(RelayWireType.Memory);

    /// <inheritdoc/>
    public static ReadOnlySpan<byte> WireType => s_wireType;

    /// <inheritdoc/>
    public static void Write(ref RelayWriter writer, RelayMemory<T>? value) => writer.WriteMemory(value);

    /// <inheritdoc/>
    public static RelayMemory<T>? Read(ref RelayReader reader) => reader.ReadMemory<T>();

    /// <inheritdoc/>
    public static RelayMemory<T>? ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) => reader.ReadMemory<T>();
}
