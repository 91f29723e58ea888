using System.Text.Json;

namespace Aeterna.Tool.Relay;

/// <summary>
/// One incompatibility between two relay manifests. <see cref="BlocksRelay"/>: the new build cannot
/// read the running generation's state, so pre-flight refuses the relay. Otherwise the relay can go
/// ahead but something is lost: the old generation could not read the new one's state back on a
/// rollback (it resumes from its frozen state instead), or a state type's data is dropped.
/// </summary>
internal sealed record SchemaProblem(string Type, string? Member, string? OldType, string? NewType, bool BlocksRelay, string Message);

/// <summary>
/// Compares the running generation's relay schema (RelaySchema.ManifestJson) with a new build's
/// manifest (<c>&lt;assembly&gt;.relay.json</c>); docs/wire-format.md describes both and the rules. A
/// pure function: pre-flight turns blocking problems into a refusal that names type and member.
/// </summary>
internal static class SchemaCompatibility
{
    public static IReadOnlyList<SchemaProblem> Compare(string runningManifestJson, string newManifestJson)
    {
        var running = Read(runningManifestJson, "running generation's schema");
        var next = Read(newManifestJson, "new build's manifest");
        var problems = new List<SchemaProblem>();
        foreach (var (typeName, oldMembers) in running)
        {
            if (!next.TryGetValue(typeName, out var newMembers))
            {
                problems.Add(new SchemaProblem(typeName, null, null, null, false,
                    $"{typeName} is not in the new build: its relayed state will be dropped."));
                continue;
            }
            foreach (var (key, old) in oldMembers)
            {
                if (!newMembers.TryGetValue(key, out var current)) continue; // removed: skipped by the reader
                var why = new List<string>();
                if (!CanRead(old.Wire, old.MemoryPack, current.Wire, current.MemoryPack, why))
                    problems.Add(new SchemaProblem(typeName, current.Name, old.Display, current.Display, true,
                        $"{typeName}.{current.Name} (key '{key}') was {old.Display} ({old.Wire}) and is now {current.Display} ({current.Wire}){Because(why)}: " +
                        "the new build cannot read the running state. Fix: " + (why.Count > 0
                            ? "keep the MemoryPack type readable (in MemoryPack's default mode add members only at the end; a version-tolerant type may also drop them; never change a member's type), or give the changed member a new key and list the old one in [RelayRemovedKeys]."
                            : "keep the type, widen it (int → long, T → T?), or give the changed member a new key and list the old one in [RelayRemovedKeys].")));
                else if (!CanRead(current.Wire, current.MemoryPack, old.Wire, old.MemoryPack, why))
                    problems.Add(new SchemaProblem(typeName, current.Name, old.Display, current.Display, false,
                        why.Count > 0
                            ? $"{typeName}.{current.Name} (key '{key}') changed its MemoryPack type{Because(why)}: on a rollback the running generation cannot read it back, and resumes from its frozen state."
                            : $"{typeName}.{current.Name} (key '{key}') widened from {old.Wire} to {current.Wire}: on a rollback the running generation cannot read it back, and resumes from its frozen state."));
            }
        }
        return problems;
    }

    /// <summary>Type name → key → member, from a manifest <c>{"format":1,"types":[…]}</c>.</summary>
    private static Dictionary<string, Dictionary<string, Member>> Read(string json, string what)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            int format = document.RootElement.GetProperty("format").GetInt32();
            if (format != 1) throw new FormatException($"the {what} has manifest format {format}; this supervisor knows format 1");
            var types = new Dictionary<string, Dictionary<string, Member>>(StringComparer.Ordinal);
            foreach (var type in document.RootElement.GetProperty("types").EnumerateArray())
            {
                var members = new Dictionary<string, Member>(StringComparer.Ordinal);
                foreach (var member in type.GetProperty("members").EnumerateArray())
                    members[member.GetProperty("key").GetString()!] = new Member(member.GetProperty("name").GetString()!,
                        member.GetProperty("type").GetString()!, member.GetProperty("wire").GetString()!,
                        member.TryGetProperty("memorypack", out var layouts) ? MemoryPackLayout.ReadAll(layouts) : null);
                types[type.GetProperty("name").GetString()!] = members;
            }
            return types;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException($"the {what} is not a relay manifest: {e.Message}", e);
        }
    }

    /// <summary>
    /// Whether data written as <paramref name="source"/> can be read as <paramref name="target"/>:
    /// the runtime's rule (RelayWireType.CanRead) on the manifest's text form of wire types.
    /// </summary>
    public static bool CanRead(string source, string target) => CanRead(source, null, target, null, null);

    /// <summary>
    /// <see cref="CanRead(string, string)"/>, with the layouts of the MemoryPack types each side holds
    /// (a <c>memorypack&lt;T&gt;</c> value is read by MemoryPack, whose rules MemoryPackCompatibility applies);
    /// why not, in <paramref name="reasons"/>.
    /// </summary>
    private static bool CanRead(string source, IReadOnlyDictionary<string, MemoryPackLayout>? sourceLayouts,
        string target, IReadOnlyDictionary<string, MemoryPackLayout>? targetLayouts, List<string>? reasons)
    {
        var (targetKind, targetArgs) = Split(target);
        var (sourceKind, sourceArgs) = Split(source);
        if (source == target && targetKind != "memorypack" && !target.Contains("memorypack<", StringComparison.Ordinal)) return true;
        bool Inner(string s, string t) => CanRead(s, sourceLayouts, t, targetLayouts, reasons);
        return targetKind switch
        {
            "nullable" => Inner(sourceKind == "nullable" ? sourceArgs[0] : source, targetArgs[0]),
            "array" => sourceKind == "array" && Inner(sourceArgs[0], targetArgs[0]),
            "map" => sourceKind == "map" && Inner(sourceArgs[0], targetArgs[0]) && Inner(sourceArgs[1], targetArgs[1]),
            "object" => sourceKind == "object",
            "memorypack" => sourceKind == "memorypack" && MemoryPackCompatibility.CanRead(sourceArgs[0], sourceLayouts, targetArgs[0], targetLayouts, reasons),
            _ => source == target || (sourceArgs.Count == 0 && targetArgs.Count == 0 && IsWidening(sourceKind, targetKind)),
        };
    }

    private static string Because(List<string> reasons) => reasons.Count == 0 ? "" : " (" + string.Join("; ", reasons.Distinct()) + ")";

    private static bool IsWidening(string from, string to) => to switch
    {
        "int16" => from is "int8" or "uint8",
        "int32" => from is "int8" or "uint8" or "int16" or "uint16" or "char",
        "int64" => from is "int8" or "uint8" or "int16" or "uint16" or "char" or "int32" or "uint32",
        "uint16" => from is "uint8",
        "uint32" => from is "uint8" or "uint16" or "char",
        "uint64" => from is "uint8" or "uint16" or "char" or "uint32",
        "float32" => from is "int8" or "uint8" or "int16" or "uint16",
        "float64" => from is "float32" or "int8" or "uint8" or "int16" or "uint16" or "int32" or "uint32",
        "decimal" => from is "int8" or "uint8" or "int16" or "uint16" or "char" or "int32" or "uint32" or "int64" or "uint64",
        _ => false,
    };

    /// <summary>"map&lt;string,array&lt;int32&gt;&gt;" → ("map", ["string", "array&lt;int32&gt;"]).</summary>
    private static (string Kind, List<string> Arguments) Split(string wire)
    {
        int open = wire.IndexOf('<');
        if (open < 0 || !wire.EndsWith('>')) return (wire, []);
        var arguments = new List<string>();
        int depth = 0, start = open + 1;
        for (int i = start; i < wire.Length - 1; i++)
        {
            if (wire[i] == '<') depth++;
            else if (wire[i] == '>') depth--;
            else if (wire[i] == ',' && depth == 0)
            {
                arguments.Add(wire[start..i]);
                start = i + 1;
            }
        }
        arguments.Add(wire[start..^1]);
        return (wire[..open], arguments);
    }

    /// <summary>A manifest member; <see cref="MemoryPack"/>: the layouts of the MemoryPack types it holds, by name.</summary>
    private sealed record Member(string Name, string Display, string Wire, IReadOnlyDictionary<string, MemoryPackLayout>? MemoryPack);
}
