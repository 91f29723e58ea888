using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// A mapping of the file whose keys have been checked against the schema: the known entries by
/// key, its dotted path for messages, and where it is named (for "missing key" errors).
/// </summary>
internal sealed class YamlSection(string path, Mark location, IReadOnlyDictionary<string, YamlEntry> entries)
{
    /// <summary>Dotted path such as "orchestration.canary" or "listeners[0]"; empty for the top level.</summary>
    public string Path { get; } = path;

    /// <summary>The key that names this section (or the start of the document for the top level).</summary>
    public Mark Location { get; } = location;

    public YamlEntry? this[string key] => entries.GetValueOrDefault(key);

    public bool Contains(string key) => entries.ContainsKey(key);
}

/// <summary>One key of a section with its value; <see cref="Path"/> is the dotted path of the key.</summary>
internal sealed record YamlEntry(string Key, string Path, YamlScalarNode KeyNode, YamlNode Value);
