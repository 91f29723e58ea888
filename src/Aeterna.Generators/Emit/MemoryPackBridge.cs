namespace Aeterna.Generators.Emit;

/// <summary>
/// The relay formatter for MemoryPack types, emitted (once per assembly, into the bootstrap source)
/// only when a member holds one: it is the only generated code that names MemoryPack, so an app that
/// does not use MemoryPack needs no reference to it, and Aeterna.Runtime never has one.
/// </summary>
/// <remarks>
/// A value is wire type <c>memorypack</c>, then MemoryPack's bytes behind their varint length
/// (docs/wire-format.md). It goes through MemoryPack's formatter for the type, which the module
/// initializer registered (with those of the MemoryPack types it holds), so MemoryPack never falls
/// back to looking one up by reflection.
/// </remarks>
internal static class MemoryPackBridge
{
    public const string Name = "MemoryPackRelayFormatter";

    public static void Emit(CodeWriter code)
    {
        const string Writer = "global::Aeterna.Serialization.RelayWriter";
        const string Reader = "global::Aeterna.Serialization.RelayReader";
        const string Buffer = "global::Aeterna.Serialization.RelayBuffer";
        code.Line("/// <summary>Relays a MemoryPack type: its MemoryPack bytes, length first, inside the relay format (docs/wire-format.md).</summary>");
        code.Line("[global::System.CodeDom.Compiler.GeneratedCode(\"Aeterna.Generators\", \"1.0\")]");
        using (code.Block($"internal readonly struct {Name}<T> : global::Aeterna.Serialization.IRelayFormatter<T> where T : global::MemoryPack.IMemoryPackFormatterRegister"))
        {
            code.Line($"public static global::System.ReadOnlySpan<byte> WireType => new byte[] {{ 0x{WireCode.MemoryPack:X2} }};");
            code.Line();
            using (code.Block($"public static void Write(ref {Writer} writer, T value)"))
            {
                code.Line($"var buffer = {Buffer}.Rent();");
                using (code.Block("try"))
                {
                    using (code.Block("using (var state = global::MemoryPack.MemoryPackWriterOptionalStatePool.Rent(global::MemoryPack.MemoryPackSerializerOptions.Default))"))
                    {
                        code.Line($"var inner = new global::MemoryPack.MemoryPackWriter<{Buffer}>(ref buffer, state);");
                        code.Line("inner.WriteValue(value);");
                        code.Line("inner.Flush();");
                    }
                    code.Line("writer.WriteLengthPrefixed(buffer.WrittenSpan);");
                }
                using (code.Block("finally"))
                {
                    code.Line($"{Buffer}.Return(buffer);");
                }
            }
            code.Line();
            using (code.Block($"public static T Read(ref {Reader} reader)"))
            {
                code.Line("global::System.ReadOnlySpan<byte> bytes = reader.ReadRaw(reader.ReadLength(\"a MemoryPack value\"));");
                code.Line("using var state = global::MemoryPack.MemoryPackReaderOptionalStatePool.Rent(global::MemoryPack.MemoryPackSerializerOptions.Default);");
                code.Line("var inner = new global::MemoryPack.MemoryPackReader(bytes, state);");
                code.Line("T value = default;");
                using (code.Block("try"))
                {
                    code.Line("inner.ReadValue(ref value);");
                }
                code.Line("// Whatever MemoryPack throws on these bytes, they are the cause: corrupt, or from an incompatible version of the type.");
                using (code.Block("catch (global::System.Exception e) when (e is not global::System.OutOfMemoryException)"))
                {
                    code.Line("throw new global::Aeterna.RelayFormatException($\"MemoryPack cannot read the {typeof(T)} in the relay state ({e.Message}). \" + Fix, e);");
                }
                using (code.Block("finally"))
                {
                    code.Line("inner.Dispose();");
                }
                code.Line("if (inner.Consumed != bytes.Length)");
                code.Line("    throw new global::Aeterna.RelayFormatException($\"MemoryPack read {inner.Consumed} of the {bytes.Length} bytes of a {typeof(T)} in the relay state. \" + Fix);");
                code.Line("return value;");
            }
            code.Line();
            code.Line($"public static T ReadConverted(ref {Reader} reader, global::System.ReadOnlySpan<byte> source) => Read(ref reader);");
            code.Line();
            code.Line("private const string Fix = \"Fix: keep the MemoryPack type readable by the other version (docs/wire-format.md, MemoryPack members): in MemoryPack's default mode add members only at the end; \" +");
            code.Line("    \"a [MemoryPackable(GenerateType.VersionTolerant)] type may also drop members; never change a member's type.\";");
        }
    }
}
