using System.Text.Json;

namespace Aeterna.Tool.Relay;

/// <summary>One MemoryPack type's layout from a relay manifest: MemoryPack's mode and its members (order, name, C# type).</summary>
internal sealed record MemoryPackLayout(string Name, string Mode, IReadOnlyList<MemoryPackLayoutMember> Members)
{
    /// <summary>The <c>memorypack</c> array of a manifest member, by type name.</summary>
    public static Dictionary<string, MemoryPackLayout> ReadAll(JsonElement layouts)
    {
        var byName = new Dictionary<string, MemoryPackLayout>(StringComparer.Ordinal);
        foreach (var layout in layouts.EnumerateArray())
        {
            var members = layout.GetProperty("members").EnumerateArray()
                .Select(m => new MemoryPackLayoutMember(m.GetProperty("order").GetInt32(), m.GetProperty("name").GetString()!, m.GetProperty("type").GetString()!))
                .ToList();
            string name = layout.GetProperty("name").GetString()!;
            byName[name] = new MemoryPackLayout(name, layout.GetProperty("mode").GetString()!, members);
        }
        return byName;
    }
}

internal sealed record MemoryPackLayoutMember(int Order, string Name, string Type)
{
    public override string ToString() => $"'{Name}' ({Type})";
}

/// <summary>
/// Whether MemoryPack reads a MemoryPack type's data written by another version of it (docs/wire-format.md,
/// "MemoryPack members"): the relay format carries such a value as MemoryPack's bytes, so MemoryPack's own
/// rules decide, applied here to the layouts both manifests list.
/// </summary>
internal static class MemoryPackCompatibility
{
    /// <summary>
    /// Whether data of <paramref name="source"/> (laid out as in <paramref name="sourceLayouts"/>) can be read as
    /// <paramref name="target"/>; the MemoryPack types either holds are compared by name. Why not, in <paramref name="reasons"/>.
    /// </summary>
    public static bool CanRead(string source, IReadOnlyDictionary<string, MemoryPackLayout>? sourceLayouts,
        string target, IReadOnlyDictionary<string, MemoryPackLayout>? targetLayouts, List<string>? reasons)
    {
        if (sourceLayouts is null || targetLayouts is null
            || !sourceLayouts.TryGetValue(source, out var sourceRoot) || !targetLayouts.TryGetValue(target, out var targetRoot))
        {
            // A manifest without layouts: only the same type is taken as readable.
            if (source == target) return true;
            reasons?.Add($"the MemoryPack type changed from {source} to {target}");
            return false;
        }
        bool readable = Compatible(sourceRoot, targetRoot, reasons);
        foreach (var (name, layout) in sourceLayouts)
            if (name != source && targetLayouts.TryGetValue(name, out var other)) readable &= Compatible(layout, other, reasons);
        return readable;
    }

    private static bool Compatible(MemoryPackLayout source, MemoryPackLayout target, List<string>? reasons)
    {
        string? problem = Problem(source, target);
        if (problem is null) return true;
        reasons?.Add(problem);
        return false;
    }

    private static string? Problem(MemoryPackLayout source, MemoryPackLayout target)
    {
        string type = source.Name == target.Name ? source.Name : $"{source.Name} (now {target.Name})";
        if (source.Mode != target.Mode)
            return $"{type} was MemoryPack mode {source.Mode} and is now {target.Mode}, which lays its bytes out differently";
        switch (source.Mode)
        {
            case "object":
                // Members by position: the reader must know every member the data has, at the same place.
                if (source.Members.Count > target.Members.Count)
                    return $"{type} has {source.Members.Count} members in the data but {target.Members.Count} in the reader, and MemoryPack's default mode cannot skip members it does not know";
                for (int i = 0; i < source.Members.Count; i++)
                    if (source.Members[i].Name != target.Members[i].Name || source.Members[i].Type != target.Members[i].Type)
                        return $"{type} member {i} was {source.Members[i]} and is now {target.Members[i]}; MemoryPack's default mode matches members by position";
                return null;
            case "versionTolerant" or "circularReference":
                // Members by [MemoryPackOrder]: added and removed ones are fine, a reused order is not.
                foreach (var member in source.Members)
                {
                    var same = target.Members.FirstOrDefault(m => m.Order == member.Order);
                    if (same is not null && (same.Name != member.Name || same.Type != member.Type))
                        return $"{type} member [MemoryPackOrder({member.Order})] was {member} and is now {same}";
                }
                return null;
            case "union":
                foreach (var member in source.Members)
                {
                    var same = target.Members.FirstOrDefault(m => m.Order == member.Order);
                    if (same is null) return $"{type} union tag {member.Order} ({member.Type}) is unknown to the reader";
                    if (same.Type != member.Type) return $"{type} union tag {member.Order} was {member.Type} and is now {same.Type}";
                }
                return null;
            default:
                // unmanaged (the struct's bytes) and collection: any change is a different layout.
                return source.Members.SequenceEqual(target.Members) ? null : $"{type} ({source.Mode}) changed its members";
        }
    }
}
