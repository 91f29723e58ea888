using Aeterna.Generators.Diagnostics;

namespace Aeterna.Generators.Model;

/// <summary>How generated code assigns a member when reading.</summary>
internal enum MemberAccess
{
    /// <summary>A field or a property with a <c>set</c> accessor: assigned directly.</summary>
    Assign,
    /// <summary>A property with only <c>init</c> (positional records): set through an UnsafeAccessor.</summary>
    InitOnly,
}

/// <summary>One [RelayState] member.</summary>
/// <param name="Name">The member's name in C#.</param>
/// <param name="Key">Its stable key (explicit, or derived from the name).</param>
/// <param name="Id">FNV-1a hash of the key: what the wire carries.</param>
/// <param name="Access">How it is assigned.</param>
/// <param name="Type">Its type.</param>
internal sealed record MemberModel(string Name, string Key, uint Id, MemberAccess Access, TypeShape Type);

/// <summary>A type that encloses the state type; each must be partial too.</summary>
internal sealed record ContainingType(string Keyword, string Name);

/// <summary>
/// Everything the emitter needs about one type with [RelayState] members, and the diagnostics
/// found while reading it (diagnostics are data: they are reported when the source is emitted).
/// </summary>
internal sealed record StateTypeModel(
    string Namespace,
    EquatableArray<ContainingType> ContainingTypes,
    string Keyword,
    string Name,
    string FullyQualifiedName,
    string DisplayName,
    bool IsValueType,
    bool IsRegistrable,
    string? CreateExpression,
    bool CanGenerate,
    EquatableArray<MemberModel> Members,
    EquatableArray<DiagnosticInfo> Diagnostics)
{
    /// <summary>A file name unique in the compilation.</summary>
    public string HintName => DisplayName.Replace('<', '_').Replace('>', '_').Replace(',', '_') + ".RelayState.g.cs";
}

/// <summary>One [assembly: RelayListener] declaration.</summary>
internal sealed record ListenerModel(string Name, string Address, string AccessorName);
