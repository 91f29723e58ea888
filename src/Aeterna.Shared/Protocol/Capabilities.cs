namespace Aeterna.Protocol;

/// <summary>The optional parts of the protocol a generation may ask for in HELLO and be granted in WELCOME.</summary>
internal static class Capabilities
{
    /// <summary>Client connections handed over with the state (docs/protocol.md, "Connections").</summary>
    public const string Connections = "connections";

    /// <summary>Every capability this side implements.</summary>
    public static readonly string[] All = [Connections];

    public static bool Has(string[]? granted, string capability) => granted is not null && Array.IndexOf(granted, capability) >= 0;
}
