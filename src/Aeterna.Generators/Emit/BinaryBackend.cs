using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Aeterna.Generators.Model;

namespace Aeterna.Generators.Emit;

/// <summary>
/// The Aeterna wire format (docs/wire-format.md): each member is its 4-byte key id, its wire type
/// descriptor and its value, written by the runtime's struct formatters composed through type
/// parameters; the code is straight-line, one call per member.
/// </summary>
internal sealed class BinaryBackend : IRelayBackend
{
    private const string Formatters = "global::Aeterna.Serialization.Formatters.";
    private const string Writer = "global::Aeterna.Serialization.RelayWriter";
    private const string Reader = "global::Aeterna.Serialization.RelayReader";
    private const string Span = "global::System.ReadOnlySpan<byte>";

    public string WireText(TypeShape shape) => shape.Kind switch
    {
        ShapeKind.Scalar or ShapeKind.Enum => ScalarText(shape.Scalar),
        ShapeKind.Nullable => $"nullable<{WireText(shape.Element!)}>",
        ShapeKind.Sequence when shape.Sequence == SequenceKind.ReadOnlyMemory => "array<uint8>",
        ShapeKind.Sequence => $"array<{WireText(shape.Element!)}>",
        ShapeKind.Map => $"map<{WireText(shape.Element!)},{WireText(shape.Value!)}>",
        ShapeKind.State => "object",
        ShapeKind.Memory => $"memory<{WireText(shape.Element!)}>",
        // The data carries only "memorypack"; the manifest names the type, whose layout it lists beside.
        ShapeKind.MemoryPack => $"memorypack<{shape.DisplayName}>",
        _ => throw new ArgumentOutOfRangeException(nameof(shape)),
    };

    /// <summary>The descriptor bytes (RelayWireType in the runtime holds the same codes).</summary>
    public static List<byte> WireBytes(TypeShape shape)
    {
        var bytes = new List<byte>();
        Append(bytes, shape);
        return bytes;

        static void Append(List<byte> bytes, TypeShape shape)
        {
            switch (shape.Kind)
            {
                case ShapeKind.Scalar:
                case ShapeKind.Enum:
                    bytes.Add(WireCode.Of(shape.Scalar));
                    break;
                case ShapeKind.Nullable:
                    bytes.Add(WireCode.Nullable);
                    Append(bytes, shape.Element!);
                    break;
                case ShapeKind.Sequence when shape.Sequence == SequenceKind.ReadOnlyMemory:
                    bytes.Add(WireCode.Array);
                    bytes.Add(WireCode.Of(ScalarKind.Byte));
                    break;
                case ShapeKind.Sequence:
                    bytes.Add(WireCode.Array);
                    Append(bytes, shape.Element!);
                    break;
                case ShapeKind.Map:
                    bytes.Add(WireCode.Map);
                    Append(bytes, shape.Element!);
                    Append(bytes, shape.Value!);
                    break;
                case ShapeKind.State:
                    bytes.Add(WireCode.Object);
                    break;
                case ShapeKind.Memory:
                    bytes.Add(WireCode.Memory);
                    Append(bytes, shape.Element!);
                    break;
                case ShapeKind.MemoryPack:
                    bytes.Add(WireCode.MemoryPack);
                    break;
            }
        }
    }

    /// <summary>The formatter type for <paramref name="shape"/>, e.g. <c>ListFormatter&lt;T, Int32Formatter&gt;</c>.</summary>
    public static string FormatterOf(TypeShape shape)
    {
        switch (shape.Kind)
        {
            case ShapeKind.Scalar:
                return Formatters + ScalarFormatter(shape.Scalar);
            case ShapeKind.Enum:
                return $"{Formatters}EnumFormatter<{shape.TypeName}, {UnderlyingKeyword(shape.Scalar)}, {Formatters}{ScalarFormatter(shape.Scalar)}>";
            case ShapeKind.Nullable:
                return $"{Formatters}NullableFormatter<{shape.Element!.TypeName}, {FormatterOf(shape.Element)}>";
            case ShapeKind.Sequence:
                if (shape.Sequence == SequenceKind.ReadOnlyMemory) return Formatters + "ReadOnlyMemoryFormatter";
                string prefix = shape.Element!.IsBlittable && shape.Sequence is SequenceKind.Array or SequenceKind.List or SequenceKind.ImmutableArray ? "Unmanaged" : "";
                string collection = shape.Sequence switch
                {
                    SequenceKind.Array => "Array",
                    SequenceKind.List => "List",
                    SequenceKind.HashSet => "HashSet",
                    SequenceKind.Queue => "Queue",
                    _ => "ImmutableArray",
                };
                return $"{Formatters}{prefix}{collection}Formatter<{shape.Element.TypeName}, {FormatterOf(shape.Element)}>";
            case ShapeKind.Map:
                return $"{Formatters}DictionaryFormatter<{shape.Element!.TypeName}, {shape.Value!.TypeName}, {FormatterOf(shape.Element)}, {FormatterOf(shape.Value)}>";
            case ShapeKind.State:
                return shape.TypeName + ".RelayStateFormatter";
            case ShapeKind.Memory:
                return $"{Formatters}RelayMemoryFormatter<{shape.Element!.TypeName}, {FormatterOf(shape.Element)}>";
            case ShapeKind.MemoryPack:
                return $"global::{BootstrapEmitter.Namespace}.{MemoryPackBridge.Name}<{shape.TypeName}>";
            default:
                throw new ArgumentOutOfRangeException(nameof(shape));
        }
    }

    public void EmitMembers(CodeWriter code, StateTypeModel model, MemberAssignments assignments)
    {
        var members = model.Members;
        for (int i = 0; i < members.Count; i++)
        {
            var member = members[i];
            // The id is little-endian, as every fixed-size value on the wire.
            var header = new[] { (byte)member.Id, (byte)(member.Id >> 8), (byte)(member.Id >> 16), (byte)(member.Id >> 24) }.Concat(WireBytes(member.Type));
            code.Line($"/// <summary>Key \"{member.Key}\" (id 0x{member.Id:x8}), then its wire type {WireText(member.Type).Replace("<", "&lt;").Replace(">", "&gt;")}.</summary>");
            code.Line($"private static {Span} __RelayHeader{i} => new byte[] {{ {string.Join(", ", header.Select(b => "0x" + b.ToString("X2", CultureInfo.InvariantCulture)))} }};");
            code.Line();
        }

        using (code.Block($"private void __RelayWrite(ref {Writer} writer)"))
        {
            code.Line($"writer.WriteObjectHeader({members.Count});");
            for (int i = 0; i < members.Count; i++)
            {
                code.Line($"writer.WriteRaw(__RelayHeader{i});");
                code.Line($"{FormatterOf(members[i].Type)}.Write(ref writer, {assignments.Get(members[i])});");
            }
            code.Line("writer.EndObject();");
        }
        code.Line();

        using (code.Block($"private void __RelayReadMembers(ref {Reader} reader, int count)"))
        {
            // Members in this version's order with this version's types (data this build or a build
            // with the same members wrote) are read straight through; the loop takes the rest.
            code.Line("int i = 0;");
            for (int i = 0; i < members.Count; i++)
            {
                using (code.Block($"if (i < count && reader.TryReadMemberHeader(__RelayHeader{i}))"))
                {
                    EmitExactRead(code, members[i], i, assignments);
                    code.Line("i++;");
                }
                code.Line("else goto Rest;");
            }
            if (members.Count == 0) code.Line("goto Rest;");
            code.Line("Rest:");
            using (code.Block("for (; i < count; i++)"))
            {
                code.Line("uint key = reader.ReadMemberKey();");
                code.Line($"{Span} type = reader.ReadWireType();");
                using (code.Block("switch (key)"))
                {
                    for (int i = 0; i < members.Count; i++) EmitReadCase(code, model, members[i], i, assignments);
                    code.Line("default:");
                    code.Line("    reader.Skip(type);");
                    code.Line("    break;");
                }
            }
            code.Line("reader.EndObject();");
        }
        code.Line();

        EmitFormatter(code, model);
    }

    /// <summary>Reads a member whose data has exactly its own wire type (the header already consumed).</summary>
    private static void EmitExactRead(CodeWriter code, MemberModel member, int index, MemberAssignments assignments)
    {
        string formatter = FormatterOf(member.Type);
        if (member.Type.Kind == ShapeKind.Memory) code.Line($"var previous{index} = {assignments.Get(member)};");
        if (member.Type.Kind == ShapeKind.Map || member.Type.Sequence == SequenceKind.HashSet)
            code.Line(assignments.Set(member, $"{formatter}.ReadInto(ref reader, __RelayHeader{index}.Slice(4), {assignments.Get(member)})"));
        else
            code.Line(assignments.Set(member, $"{formatter}.Read(ref reader)"));
        if (member.Type.Kind == ShapeKind.Memory)
            code.Line($"if (previous{index} is not null && !ReferenceEquals(previous{index}, {assignments.Get(member)})) previous{index}.Dispose();");
    }

    private static void EmitReadCase(CodeWriter code, StateTypeModel model, MemberModel member, int index, MemberAssignments assignments)
    {
        string formatter = FormatterOf(member.Type);
        string wire = $"__RelayHeader{index}.Slice(4)";
        string ensure = $"reader.EnsureReadable(type, {wire}, \"{model.DisplayName}\", \"{member.Name}\", \"{Escape(member.Type.DisplayName)}\");";
        string same = $"global::System.MemoryExtensions.SequenceEqual<byte>(type, {wire})";
        using (code.Block($"case 0x{member.Id:X8}u: // {member.Key}", "}"))
        {
            if (member.Type.Kind == ShapeKind.Memory) code.Line($"var previous = {assignments.Get(member)};");
            if (member.Type.Kind == ShapeKind.Map || member.Type.Sequence == SequenceKind.HashSet)
            {
                // Refill the existing collection: it keeps the comparer its initializer chose.
                code.Line($"if (!{same}) {ensure}");
                code.Line(assignments.Set(member, $"{formatter}.ReadInto(ref reader, type, {assignments.Get(member)})"));
            }
            else
            {
                code.Line($"if ({same}) {assignments.Set(member, $"{formatter}.Read(ref reader)")}");
                using (code.Block("else"))
                {
                    code.Line(ensure);
                    code.Line(assignments.Set(member, $"{formatter}.ReadConverted(ref reader, type)"));
                }
            }
            if (member.Type.Kind == ShapeKind.Memory)
                code.Line($"if (previous is not null && !ReferenceEquals(previous, {assignments.Get(member)})) previous.Dispose();");
            code.Line("break;");
        }
    }

    private static void EmitFormatter(CodeWriter code, StateTypeModel model)
    {
        string type = model.FullyQualifiedName;
        code.Line("/// <summary>Relays this type as a member of other types (lists of it, dictionaries of it, …).</summary>");
        code.Line("[global::System.ComponentModel.EditorBrowsable(global::System.ComponentModel.EditorBrowsableState.Never)]");
        using (code.Block($"public readonly struct RelayStateFormatter : global::Aeterna.Serialization.IRelayFormatter<{type}>"))
        {
            code.Line($"public static {Span} WireType => new byte[] {{ 0x{WireCode.Object:X2} }};");
            code.Line();
            using (code.Block($"public static void Write(ref {Writer} writer, {type} value)"))
            {
                if (!model.IsValueType)
                {
                    using (code.Block("if (value is null)"))
                    {
                        code.Line("writer.WriteNullObject();");
                        code.Line("return;");
                    }
                }
                code.Line("value.__RelayWrite(ref writer);");
            }
            code.Line();
            using (code.Block($"public static {type} Read(ref {Reader} reader)"))
            {
                if (model.CreateExpression is null)
                {
                    code.Line($"throw new global::System.InvalidOperationException(\"{model.DisplayName} cannot be created (see diagnostic AET0010)\");");
                }
                else
                {
                    code.Line("int count = reader.ReadObjectHeader();");
                    code.Line($"if (count < 0) return {(model.IsValueType ? model.CreateExpression : "null")};");
                    code.Line($"var value = {model.CreateExpression};");
                    code.Line("value.__RelayReadMembers(ref reader, count);");
                    code.Line("return value;");
                }
            }
            code.Line();
            code.Line($"public static {type} ReadConverted(ref {Reader} reader, {Span} source) => Read(ref reader);");
        }
    }

    private static string Escape(string text) => text.Replace("\\", "\\\\").Replace("\"", "\\\"");

    private static string ScalarFormatter(ScalarKind scalar) => scalar switch
    {
        ScalarKind.Bool => "BoolFormatter",
        ScalarKind.SByte => "SByteFormatter",
        ScalarKind.Byte => "ByteFormatter",
        ScalarKind.Int16 => "Int16Formatter",
        ScalarKind.UInt16 => "UInt16Formatter",
        ScalarKind.Char => "CharFormatter",
        ScalarKind.Int32 => "Int32Formatter",
        ScalarKind.UInt32 => "UInt32Formatter",
        ScalarKind.Int64 => "Int64Formatter",
        ScalarKind.UInt64 => "UInt64Formatter",
        ScalarKind.Single => "SingleFormatter",
        ScalarKind.Double => "DoubleFormatter",
        ScalarKind.Decimal => "DecimalFormatter",
        ScalarKind.DateTime => "DateTimeFormatter",
        ScalarKind.DateTimeOffset => "DateTimeOffsetFormatter",
        ScalarKind.TimeSpan => "TimeSpanFormatter",
        ScalarKind.Guid => "GuidFormatter",
        ScalarKind.String => "StringFormatter",
        _ => throw new ArgumentOutOfRangeException(nameof(scalar)),
    };

    private static string UnderlyingKeyword(ScalarKind scalar) => scalar switch
    {
        ScalarKind.SByte => "sbyte",
        ScalarKind.Byte => "byte",
        ScalarKind.Int16 => "short",
        ScalarKind.UInt16 => "ushort",
        ScalarKind.Int32 => "int",
        ScalarKind.UInt32 => "uint",
        ScalarKind.Int64 => "long",
        ScalarKind.UInt64 => "ulong",
        _ => throw new ArgumentOutOfRangeException(nameof(scalar)),
    };

    private static string ScalarText(ScalarKind scalar) => scalar switch
    {
        ScalarKind.Bool => "bool",
        ScalarKind.SByte => "int8",
        ScalarKind.Byte => "uint8",
        ScalarKind.Int16 => "int16",
        ScalarKind.UInt16 => "uint16",
        ScalarKind.Char => "char",
        ScalarKind.Int32 => "int32",
        ScalarKind.UInt32 => "uint32",
        ScalarKind.Int64 => "int64",
        ScalarKind.UInt64 => "uint64",
        ScalarKind.Single => "float32",
        ScalarKind.Double => "float64",
        ScalarKind.Decimal => "decimal",
        ScalarKind.DateTime => "datetime",
        ScalarKind.DateTimeOffset => "datetimeoffset",
        ScalarKind.TimeSpan => "timespan",
        ScalarKind.Guid => "guid",
        ScalarKind.String => "string",
        _ => throw new ArgumentOutOfRangeException(nameof(scalar)),
    };
}
