namespace Aeterna;

/// <summary>
/// Marks a field or property of a <c>partial</c> type as state that crosses a relay. The source
/// generator implements <see cref="IRelayState"/> for the type from its marked members.
/// </summary>
/// <remarks>
/// Each member is stored under a stable key: <see cref="Key"/> when given, otherwise the member's
/// name without a leading <c>_</c>, <c>m_</c> or <c>s_</c> and with its first letter lower-cased
/// (<c>_history</c> and <c>History</c> both become <c>history</c>). Another version of the type
/// reads the member by that key, so members may be reordered or renamed as long as the key stays.
/// docs/wire-format.md describes the bytes.
/// </remarks>
[AttributeUsage(AttributeTargets.Field | AttributeTargets.Property, AllowMultiple = false, Inherited = false)]
public sealed class RelayStateAttribute : Attribute
{
    /// <summary>Stores the member under a key derived from its name.</summary>
    public RelayStateAttribute() { }

    /// <summary>Stores the member under <paramref name="key"/>.</summary>
    public RelayStateAttribute(string key) => Key = key;

    /// <summary>The member's stable key; keep it when renaming the member.</summary>
    public string? Key { get; set; }
}
