namespace Aeterna.Generators.Model;

/// <summary>
/// How MemoryPack lays out one of its types, as far as reading another version goes: the mode it
/// was generated in and its members in MemoryPack's order (docs/wire-format.md, "MemoryPack members").
/// </summary>
/// <param name="TypeName">The type in generated code (<c>global::App.Profile</c>), to register its formatters.</param>
/// <param name="DisplayName">The type as the manifest names it.</param>
/// <param name="Mode">
/// <c>object</c> (MemoryPack's default: members by position), <c>versionTolerant</c> and
/// <c>circularReference</c> (members by <c>[MemoryPackOrder]</c>), <c>unmanaged</c> (the struct's
/// bytes), <c>union</c> (members are the union's tags) or <c>collection</c>.
/// </param>
/// <param name="Members">Members (or union cases) in MemoryPack's order.</param>
internal sealed record MemoryPackLayout(string TypeName, string DisplayName, string Mode, EquatableArray<MemoryPackMember> Members);

/// <summary>One member of a MemoryPack type: its order (position, <c>[MemoryPackOrder]</c> or union tag), name and C# type.</summary>
internal sealed record MemoryPackMember(int Order, string Name, string Type);
