namespace Aeterna;

/// <summary>
/// Keys of <see cref="RelayStateAttribute"/> members that were removed from this type. A running
/// older generation still writes them, so the generator refuses a new member that reuses one
/// (it would silently receive the old member's data).
/// </summary>
/// <example><c>[RelayRemovedKeys("legacyCounter")] public partial class AgentMemory { … }</c></example>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, AllowMultiple = false, Inherited = false)]
public sealed class RelayRemovedKeysAttribute(params string[] keys) : Attribute
{
    /// <summary>The retired keys.</summary>
    public IReadOnlyList<string> Keys { get; } = keys;
}
