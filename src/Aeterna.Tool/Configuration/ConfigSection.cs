using YamlDotNet.RepresentationModel;

namespace Aeterna.Tool.Configuration;

/// <summary>One key of aeterna.yaml: the single description the loader, the suggestions, the reference and the JSON Schema use.</summary>
/// <param name="Name">The key as written.</param>
/// <param name="Kind">Its type and bounds: how its value is read, and described.</param>
/// <param name="Default">A value as YAML, read by the kind like the file's. Null: none, or said in words.</param>
/// <param name="Example">A value as YAML, for fixes, the reference and the schema.</param>
/// <param name="Doc">One line of Markdown.</param>
/// <param name="Required">A config without the key is an error.</param>
/// <param name="DefaultInWords">A default that depends on the file (e.g. "the config file's directory"), resolved by the section's record.</param>
/// <param name="Aliases">Names people reach for from other tools (compose, systemd), suggested as this key.</param>
internal sealed record ConfigKey(string Name, ValueKind Kind, string? Default, string Example, string Doc,
    bool Required = false, string? DefaultInWords = null, string[]? Aliases = null)
{
    private YamlNode? _default;

    /// <summary>"name: example", the line fixes show.</summary>
    public string Line => $"{Name}: {Example}";

    /// <summary>The default as a node, parsed once.</summary>
    public YamlNode? DefaultNode => Default is null ? null : _default ??= ParseDefault(Default);

    private static YamlNode ParseDefault(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents[0].RootNode;
    }
}

/// <summary>A mapping of aeterna.yaml (the top level, <c>readiness</c>, each item of <c>listeners</c>, …) and its keys, in the order the reference lists them.</summary>
internal abstract class ConfigSection(string path, IReadOnlyList<ConfigKey> keys)
{
    /// <summary>Dotted path ("" for the top level, "orchestration.canary"); a list's items have the list's path.</summary>
    public string Path => path;

    public IReadOnlyList<ConfigKey> Keys => keys;

    public ConfigKey? Key(string name) => keys.FirstOrDefault(k => k.Name == name);

    /// <summary>The default of the key <paramref name="name"/>, read as if it were the value at <paramref name="at"/>.</summary>
    public TValue Default<TValue>(string name, ValueAt at) => (TValue)Key(name)!.Kind.ReadValue(at with { Node = Key(name)!.DefaultNode! })!;

    /// <summary>
    /// The value at <paramref name="at"/> as this section, unknown keys reported. An empty value
    /// opens as an empty section; anything but a mapping is an error (null).
    /// </summary>
    protected YamlSection? Open(ValueAt at)
    {
        var entries = new Dictionary<string, ValueAt>(StringComparer.Ordinal);
        if (at.Node is not YamlMappingNode mapping)
            return at.IsNull ? new(at, entries) : at.WrongKind<YamlSection?>("a mapping (key: value lines)");
        foreach (var (keyNode, value) in mapping.Children)
        {
            // StrictYamlParser dropped every key that is not a scalar.
            var key = (YamlScalarNode)keyNode;
            string name = key.Value ?? "";
            if (Key(name) is not { } known)
                at.Map.Error(key.Start, $"unknown key '{ConfigText.Show(name)}' in {(at.Path.Length == 0 ? "the top level" : $"'{at.Path}'")}.", KeySuggestions.UnknownKeyFix(name, this));
            else
                entries[name] = new(at.Map, at.Path.Length == 0 ? name : $"{at.Path}.{name}", name, value, key.Start, known.Line);
        }
        return new(at, entries);
    }

    /// <summary>
    /// The value of <paramref name="key"/> in <paramref name="section"/> (null: the section was not a
    /// mapping): as written, else its default; a key absent or empty (an error if it is required)
    /// or wrong (reported) has its default, or null when it has none.
    /// </summary>
    protected static object? Value(ValueAt at, YamlSection? section, ConfigKey key)
    {
        var entry = section?[key.Name];
        if (entry is null && key.Required && section is not null)
        {
            string where = section.Path.Length == 0 ? "the config" : section.Path;
            at.Map.Error(at.Location, $"{where} has no '{key.Name}'.", $"Add it{(section.Path.Length == 0 ? " at the top level" : $" under {section.Path}")}, e.g. {key.Line}");
        }
        else if (entry is { IsNull: true } && !key.Kind.IsMapping)
        {
            if (key.Required) entry.Map.Error(entry.Location, $"{entry.Path} is empty.", $"Give it a value, e.g. {key.Line}");
        }
        else if (entry is not null && key.Kind.ReadValue(entry) is var value && !entry.Failed)
            return value;
        string keyPath = at.Path.Length == 0 ? key.Name : $"{at.Path}.{key.Name}";
        return key.DefaultNode is { } node ? key.Kind.ReadValue(new ValueAt(at.Map, keyPath, key.Name, node, at.Location, key.Line)) : null;
    }
}

/// <summary>
/// A section read into a <typeparamref name="T"/>: each key's value (<see cref="ConfigSection.Value"/>),
/// built into the record, then <c>check</c>: the rules across its keys.
/// </summary>
internal sealed class ConfigSection<T>(string path, Func<KeyValues, T> build, IReadOnlyList<ConfigKey> keys, Func<T, YamlSection, T>? check = null)
    : ConfigSection(path, keys)
{
    /// <summary>The kind of a value that is this section.</summary>
    public ValueKind<T> Kind => new("mapping", $$"""{"$section":"{{Path}}"}""", Read, this) { IsMapping = true };

    public T Read(ValueAt at)
    {
        var section = Open(at);
        var value = build(new([.. Keys.Select(k => Value(at, section, k))], at.Map));
        return section is null || check is null ? value : check(value, section);
    }
}

/// <summary>The values of a section's keys, in the table's order, which is the order its record takes them in.</summary>
internal sealed class KeyValues(IReadOnlyList<object?> values, ConfigMapper map)
{
    private int _next;

    /// <summary>The file being read, for the defaults that depend on where it is.</summary>
    public ConfigMapper Map => map;

    /// <summary>The next key's value; default(<typeparamref name="TValue"/>) when it has none.</summary>
    public TValue Next<TValue>() => values[_next++] is TValue value ? value : default!;

    /// <summary>Passes over a key that is checked and not kept.</summary>
    public KeyValues Skip()
    {
        _next++;
        return this;
    }
}
