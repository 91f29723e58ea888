using System.ComponentModel;

namespace Aeterna.Serialization;

/// <summary>
/// How values of <typeparamref name="T"/> are written and read. Formatters are structs with only
/// static members, composed through type parameters
/// (<c>ListFormatter&lt;ChatTurn, ChatTurn.RelayStateFormatter&gt;</c>): the JIT and NativeAOT
/// specialise each composition, so a list of a thousand items makes a thousand direct calls, not
/// virtual ones. Generated code picks the formatters; apps never name them.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IRelayFormatter<T>
{
    /// <summary>The wire type descriptor written before each member of this type.</summary>
    static abstract ReadOnlySpan<byte> WireType { get; }

    /// <summary>Writes <paramref name="value"/> (without its descriptor).</summary>
    static abstract void Write(ref RelayWriter writer, T value);

    /// <summary>Reads a value written with exactly <see cref="WireType"/>.</summary>
    static abstract T Read(ref RelayReader reader);

    /// <summary>
    /// Reads a value written as <paramref name="source"/>, which the caller has checked is readable
    /// as <see cref="WireType"/> (<see cref="RelayReader.EnsureReadable"/>): a widened number, an
    /// array of convertible elements, …
    /// </summary>
    static abstract T ReadConverted(ref RelayReader reader, ReadOnlySpan<byte> source);
}
