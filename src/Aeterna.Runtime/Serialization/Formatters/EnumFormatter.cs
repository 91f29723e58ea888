using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace Aeterna.Serialization.Formatters;

/// <summary>An enum: written as its underlying integer, so changing the enum to that integer type (or back) is harmless.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct EnumFormatter<TEnum, TUnderlying, TFormatter> : IRelayFormatter<TEnum>
    where TEnum : unmanaged, Enum
    where TUnderlying : unmanaged
    where TFormatter : IRelayFormatter<TUnderlying>
{
    /// <inheritdoc/>
    public static ReadOnlySpan<byte> WireType => TFormatter.WireType;

    /// <inheritdoc/>
    public static void Write(ref RelayWriter writer, TEnum value) => TFormatter.Write(ref writer, Unsafe.BitCast<TEnum, TUnderlying>(value));

    /// <inheritdoc/>
    public static TEnum Read(ref RelayReader reader) => Unsafe.BitCast<TUnderlying, TEnum>(TFormatter.Read(ref reader));

    /// <inheritdoc/>
    public static TEnum ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source) =>
        Unsafe.BitCast<TUnderlying, TEnum>(TFormatter.ReadConverted(ref reader, source));
}
