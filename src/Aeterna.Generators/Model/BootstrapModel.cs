using Aeterna.Generators.Parsing;

namespace Aeterna.Generators.Model;

/// <summary>A state type as the module initializer sees it.</summary>
/// <param name="FullyQualifiedName">The type, for <c>RelaySerializer.Register</c>.</param>
/// <param name="Register">Whether the initializer registers it (it can name it: not private, and generated).</param>
/// <param name="SchemaJson">Its manifest entry.</param>
/// <param name="MemoryPackTypes">The MemoryPack types its members hold (generated-code names), whose formatters the initializer registers.</param>
internal sealed record BootstrapType(string FullyQualifiedName, bool Register, string SchemaJson, EquatableArray<string> MemoryPackTypes);

/// <summary>Everything the assembly-wide bootstrap source needs.</summary>
internal sealed record BootstrapModel(string AssemblyName, string RootNamespace, EquatableArray<BootstrapType> Types, ListenersModel Listeners);
