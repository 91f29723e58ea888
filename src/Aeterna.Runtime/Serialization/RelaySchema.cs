using System.ComponentModel;
using System.Text;

namespace Aeterna;

/// <summary>
/// The schema of every relay-state type in the running app: each type's members, keys, wire types
/// and fingerprint, in the manifest format of docs/wire-format.md (the same JSON the build writes
/// as <c>&lt;assembly&gt;.relay.json</c>). The supervisor's pre-flight compares it with a new build's manifest.
/// </summary>
public static class RelaySchema
{
    private static readonly Lock s_gate = new();
    private static readonly SortedDictionary<string, string> s_byAssembly = new(StringComparer.Ordinal);
    private static string? s_manifest;

    /// <summary>The manifest: <c>{"format":1,"types":[…]}</c>, types of all assemblies loaded so far.</summary>
    public static string ManifestJson
    {
        get
        {
            lock (s_gate)
            {
                if (s_manifest is not null) return s_manifest;
                var json = new StringBuilder("{\"format\":1,\"types\":[");
                bool first = true;
                foreach (string types in s_byAssembly.Values)
                {
                    // Each fragment is a JSON array the generator wrote; splice its items.
                    string items = types.Trim()[1..^1].Trim();
                    if (items.Length == 0) continue;
                    if (!first) json.Append(',');
                    json.Append(items);
                    first = false;
                }
                return s_manifest = json.Append("]}").ToString();
            }
        }
    }

    /// <summary>Adds an assembly's types (a JSON array); generated module initializers call this.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static void Register(string assemblyName, string typesJson)
    {
        lock (s_gate)
        {
            s_byAssembly[assemblyName] = typesJson;
            s_manifest = null;
        }
    }
}
