using System.Text;

namespace Aeterna.Generators.Parsing;

/// <summary>
/// Member keys: the explicit <c>Key</c>, or the name without a leading <c>_</c>, <c>m_</c> or
/// <c>s_</c> and with its first letter lower-cased, so a field <c>_history</c> and a property
/// <c>History</c> share the key <c>history</c>. The wire carries the key's 32-bit FNV-1a hash.
/// </summary>
internal static class MemberKeys
{
    public static string Derive(string memberName)
    {
        string name = memberName;
        if (name.StartsWith("m_") || name.StartsWith("s_")) name = name.Substring(2);
        name = name.TrimStart('_');
        if (name.Length == 0) return memberName;
        return char.ToLowerInvariant(name[0]) + name.Substring(1);
    }

    /// <summary>FNV-1a over the key's UTF-8 bytes (docs/wire-format.md).</summary>
    public static uint Hash(string key)
    {
        uint hash = 2166136261;
        foreach (byte b in Encoding.UTF8.GetBytes(key))
        {
            hash ^= b;
            hash *= 16777619;
        }
        return hash;
    }
}
