namespace Aeterna.Serialization.Formatters;

/// <summary>What every collection formatter needs to know about its element type, computed once per type.</summary>
internal static class Element<T, TFormatter> where TFormatter : IRelayFormatter<T>
{
    /// <summary>One element written as <paramref name="source"/>: exact when it is this formatter's own wire type.</summary>
    public static T Read(ref RelayReader reader, ReadOnlySpan<byte> source, bool exact) =>
        exact ? TFormatter.Read(ref reader) : TFormatter.ReadConverted(ref reader, source);

    /// <summary>A wire type with <paramref name="code"/> in front of the element's (Array + element, Nullable + element).</summary>
    public static byte[] Prefixed(byte code) => [code, .. TFormatter.WireType];
}
