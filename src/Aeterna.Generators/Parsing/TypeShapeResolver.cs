using System.Linq;
using Aeterna.Generators.Model;
using Microsoft.CodeAnalysis;

namespace Aeterna.Generators.Parsing;

/// <summary>
/// Why a member type can't be relayed: the offending part, the reason, and the fix; reported as
/// <paramref name="Descriptor"/> when given (MemoryPack types have their own), else as AET0002.
/// </summary>
internal sealed record Unsupported(string Part, string Reason, string Fix, Microsoft.CodeAnalysis.DiagnosticDescriptor? Descriptor = null);

/// <summary>Turns a member's type symbol into a <see cref="TypeShape"/>, or says which part of it is not supported.</summary>
internal sealed class TypeShapeResolver
{
    /// <summary>Fully qualified, no nullable reference annotations: valid in generated code under any nullable context.</summary>
    public static readonly SymbolDisplayFormat CodeFormat = SymbolDisplayFormat.FullyQualifiedFormat;

    /// <summary>Fully qualified without <c>global::</c>: messages and the manifest.</summary>
    public static readonly SymbolDisplayFormat DisplayFormat =
        SymbolDisplayFormat.FullyQualifiedFormat.WithGlobalNamespaceStyle(SymbolDisplayGlobalNamespaceStyle.Omitted);

    private const string CollectionsFix = "use T[], List<T>, HashSet<T>, Queue<T>, ImmutableArray<T> or Dictionary<TKey, TValue>";

    private readonly INamedTypeSymbol? _relayStateAttribute;
    private readonly INamedTypeSymbol? _list, _hashSet, _queue, _dictionary, _immutableArray, _readOnlyMemory, _relayMemory;
    private readonly INamedTypeSymbol? _dateTimeOffset, _timeSpan, _guid;
    private readonly MemoryPackTypes _memoryPack;

    public TypeShapeResolver(Compilation compilation)
    {
        _relayStateAttribute = compilation.GetTypeByMetadataName("Aeterna.RelayStateAttribute");
        _list = compilation.GetTypeByMetadataName("System.Collections.Generic.List`1");
        _hashSet = compilation.GetTypeByMetadataName("System.Collections.Generic.HashSet`1");
        _queue = compilation.GetTypeByMetadataName("System.Collections.Generic.Queue`1");
        _dictionary = compilation.GetTypeByMetadataName("System.Collections.Generic.Dictionary`2");
        _immutableArray = compilation.GetTypeByMetadataName("System.Collections.Immutable.ImmutableArray`1");
        _readOnlyMemory = compilation.GetTypeByMetadataName("System.ReadOnlyMemory`1");
        _relayMemory = compilation.GetTypeByMetadataName("Aeterna.RelayMemory`1");
        _dateTimeOffset = compilation.GetTypeByMetadataName("System.DateTimeOffset");
        _timeSpan = compilation.GetTypeByMetadataName("System.TimeSpan");
        _guid = compilation.GetTypeByMetadataName("System.Guid");
        _memoryPack = new MemoryPackTypes(compilation);
    }

    public INamedTypeSymbol? RelayStateAttribute => _relayStateAttribute;

    public TypeShape? Resolve(ITypeSymbol type, out Unsupported? problem)
    {
        problem = null;
        string code = type.ToDisplayString(CodeFormat);
        string display = type.ToDisplayString(DisplayFormat);

        var scalar = ScalarOf(type);
        if (scalar != ScalarKind.None) return new TypeShape(ShapeKind.Scalar, code, display, scalar);

        if (type is IArrayTypeSymbol array)
        {
            if (!array.IsSZArray)
            {
                problem = new Unsupported(display, "multi-dimensional arrays are not supported", "use a jagged array (T[][]) or a flat T[] with an index");
                return null;
            }
            var element = Resolve(array.ElementType, out problem);
            return element is null ? null : new TypeShape(ShapeKind.Sequence, code, display, Sequence: SequenceKind.Array, Element: element);
        }

        if (type is not INamedTypeSymbol named)
            return Fail(display, type.TypeKind == TypeKind.TypeParameter ? "type parameters are not supported" : "only named types and arrays can be relayed",
                "use a concrete type", out problem);

        if (named.TypeKind == TypeKind.Enum && named.EnumUnderlyingType is { } underlying)
            return new TypeShape(ShapeKind.Enum, code, display, ScalarOf(underlying));

        if (named.OriginalDefinition.SpecialType == SpecialType.System_Nullable_T)
        {
            var inner = Resolve(named.TypeArguments[0], out problem);
            return inner is null ? null : new TypeShape(ShapeKind.Nullable, code, display, Element: inner);
        }

        var definition = named.OriginalDefinition;
        if (Is(definition, _list)) return Sequence(SequenceKind.List, named, code, display, out problem);
        if (Is(definition, _hashSet)) return Sequence(SequenceKind.HashSet, named, code, display, out problem);
        if (Is(definition, _queue)) return Sequence(SequenceKind.Queue, named, code, display, out problem);
        if (Is(definition, _immutableArray)) return Sequence(SequenceKind.ImmutableArray, named, code, display, out problem);
        if (Is(definition, _readOnlyMemory))
        {
            if (named.TypeArguments[0].SpecialType != SpecialType.System_Byte)
                return Fail(display, "only ReadOnlyMemory<byte> is supported", "use T[] or ImmutableArray<T> for other element types", out problem);
            return Sequence(SequenceKind.ReadOnlyMemory, named, code, display, out problem);
        }
        if (Is(definition, _dictionary))
        {
            var key = Resolve(named.TypeArguments[0], out problem);
            if (key is null) return null;
            var value = Resolve(named.TypeArguments[1], out problem);
            return value is null ? null : new TypeShape(ShapeKind.Map, code, display, Element: key, Value: value);
        }
        if (Is(definition, _relayMemory))
        {
            var element = Resolve(named.TypeArguments[0], out problem);
            if (element is null) return null;
            if (!element.IsBlittable || element.Kind != ShapeKind.Scalar)
                return Fail(display, $"RelayMemory<{element.DisplayName}> needs a numeric element type", "use RelayMemory<float>, RelayMemory<int>, … (fixed-size numbers)", out problem);
            return new TypeShape(ShapeKind.Memory, code, display, Element: element);
        }

        // A type with [RelayState] members is relayed as an object even when it is a MemoryPack type too.
        if (IsStateType(named)) return new TypeShape(ShapeKind.State, code, display);
        if (MemoryPackTypes.IsMemoryPackType(named)) return _memoryPack.Resolve(named, code, display, out problem);

        string fix = named.TypeKind == TypeKind.Interface || named.IsAbstract
            ? $"use a concrete type: for collections {CollectionsFix}; for your own types, a partial class, struct or record with [RelayState] members"
            : named.IsGenericType
                ? CollectionsFix
                : $"mark the members of '{named.Name}' that should be relayed with [RelayState] and declare it partial (it then becomes relayable), or relay its data through supported types";
        return Fail(display, named.TypeKind == TypeKind.Interface ? "interfaces cannot be relayed" : "it is not a supported type and has no [RelayState] members", fix, out problem);
    }

    /// <summary>
    /// A type whose values are relayed as objects: in this compilation, one with [RelayState]
    /// members; from another assembly, one with the generated nested RelayStateFormatter.
    /// </summary>
    public bool IsStateType(INamedTypeSymbol type)
    {
        if (type.IsGenericType) return false;
        if (type.GetTypeMembers("RelayStateFormatter").Length > 0) return true;
        return type.Locations.Any(l => l.IsInSource) && HasStateMembers(type);
    }

    public bool HasStateMembers(INamedTypeSymbol type) =>
        type.GetMembers().Any(m => m is IFieldSymbol or IPropertySymbol && HasRelayStateAttribute(m));

    public bool HasRelayStateAttribute(ISymbol symbol) =>
        symbol.GetAttributes().Any(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, _relayStateAttribute));

    private TypeShape? Sequence(SequenceKind kind, INamedTypeSymbol named, string code, string display, out Unsupported? problem)
    {
        var element = Resolve(named.TypeArguments[0], out problem);
        return element is null ? null : new TypeShape(ShapeKind.Sequence, code, display, Sequence: kind, Element: element);
    }

    private ScalarKind ScalarOf(ITypeSymbol type)
    {
        switch (type.SpecialType)
        {
            case SpecialType.System_Boolean: return ScalarKind.Bool;
            case SpecialType.System_SByte: return ScalarKind.SByte;
            case SpecialType.System_Byte: return ScalarKind.Byte;
            case SpecialType.System_Int16: return ScalarKind.Int16;
            case SpecialType.System_UInt16: return ScalarKind.UInt16;
            case SpecialType.System_Char: return ScalarKind.Char;
            case SpecialType.System_Int32: return ScalarKind.Int32;
            case SpecialType.System_UInt32: return ScalarKind.UInt32;
            case SpecialType.System_Int64: return ScalarKind.Int64;
            case SpecialType.System_UInt64: return ScalarKind.UInt64;
            case SpecialType.System_Single: return ScalarKind.Single;
            case SpecialType.System_Double: return ScalarKind.Double;
            case SpecialType.System_Decimal: return ScalarKind.Decimal;
            case SpecialType.System_DateTime: return ScalarKind.DateTime;
            case SpecialType.System_String: return ScalarKind.String;
        }
        if (Is(type, _dateTimeOffset)) return ScalarKind.DateTimeOffset;
        if (Is(type, _timeSpan)) return ScalarKind.TimeSpan;
        if (Is(type, _guid)) return ScalarKind.Guid;
        return ScalarKind.None;
    }

    private static bool Is(ITypeSymbol type, INamedTypeSymbol? known) =>
        known is not null && SymbolEqualityComparer.Default.Equals(type, known);

    private static TypeShape? Fail(string part, string reason, string fix, out Unsupported? problem)
    {
        problem = new Unsupported(part, reason, fix);
        return null;
    }
}
