namespace Aeterna.Serialization;

/// <summary>
/// The formatter of <typeparamref name="T"/>, filled by the generated module initializer: a static
/// generic field is a lookup the JIT resolves once, with no dictionary and no reflection.
/// </summary>
internal static class RelayFormatterCache<T>
{
    public static RelayFormatterBox<T>? Formatter;
}

/// <summary>A formatter behind one virtual call, for the entry points that start from a type parameter.</summary>
internal abstract class RelayFormatterBox<T>
{
    public abstract void Write(ref RelayWriter writer, T value);

    public abstract T Read(ref RelayReader reader);
}

internal sealed class RelayFormatterBox<T, TFormatter> : RelayFormatterBox<T> where TFormatter : IRelayFormatter<T>
{
    public override void Write(ref RelayWriter writer, T value) => TFormatter.Write(ref writer, value);

    public override T Read(ref RelayReader reader) => TFormatter.Read(ref reader);
}
