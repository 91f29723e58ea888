using System.Collections;
using YamlDotNet.RepresentationModel;

namespace Aeterna.Tool.Configuration;

/// <summary>What a key says besides its name, kind, example and doc.</summary>
internal sealed record KeyOptions
{
    /// <summary>A config without the key is an error.</summary>
    public bool Required { get; init; }

    /// <summary>The default in words, when it is not a value (e.g. "the config file's directory").</summary>
    public string? Default { get; init; }

    /// <summary>Names people reach for from other tools (compose, systemd), suggested as this key.</summary>
    public string[] Aliases { get; init; } = [];
}

/// <summary>
/// One key of aeterna.yaml: the single description the loader, the suggestions, the reference and
/// the JSON Schema use. Its example is a value as YAML; its doc one line of Markdown.
/// </summary>
internal sealed record ConfigKey(string Name, ValueKind Kind, string Example, string Doc, KeyOptions Options)
{
    /// <summary>"name: example", the line fixes show.</summary>
    public string Line => $"{Name}: {Example}";
}

/// <summary>A mapping of aeterna.yaml (the top level, <c>readiness</c>, each item of <c>listeners</c>, …) and its keys, in the order the reference lists them.</summary>
internal abstract class ConfigSection(string path)
{
    /// <summary>Dotted path ("" for the top level, "orchestration.canary"); a list's items have the list's path.</summary>
    public string Path => path;

    public abstract IReadOnlyList<ConfigKey> Keys { get; }

    public ConfigKey? Key(string name) => Keys.FirstOrDefault(k => k.Name == name);

    /// <summary>The default of <paramref name="key"/> as YAML, for a config at <paramref name="sample"/>'s path; null when it has none or it is said in words.</summary>
    public abstract string? DefaultValue(ConfigKey key, ConfigMapper sample);

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
    /// Reads <paramref name="key"/> of <paramref name="section"/>: false when it is absent or empty
    /// (an error if it is required) or its value is wrong (reported).
    /// </summary>
    protected static bool TryRead<TValue>(YamlSection section, ConfigKey key, ValueKind<TValue> kind, out TValue value)
    {
        value = default!;
        if (section[key.Name] is not { } entry)
        {
            string where = section.Path.Length == 0 ? "the config" : section.Path;
            if (key.Options.Required)
                section.At.Map.Error(section.At.Location, $"{where} has no '{key.Name}'.",
                    $"Add it{(section.Path.Length == 0 ? " at the top level" : $" under {section.Path}")}, e.g. {key.Line}");
            return false;
        }
        if (entry.IsNull && !kind.IsMapping)
        {
            if (key.Options.Required) entry.Map.Error(entry.Location, $"{entry.Path} is empty.", $"Give it a value, e.g. {key.Line}");
            return false;
        }
        value = kind.Read(entry);
        return !entry.Failed;
    }
}

/// <summary>
/// A section read into a <typeparamref name="T"/>: its defaults, then each key present, then
/// <c>finish</c>: the checks across its keys, and the defaults that follow from them.
/// </summary>
internal sealed class ConfigSection<T>(string path, Func<ConfigMapper, T> defaults, Func<T, YamlSection, T>? finish = null)
    : ConfigSection(path), IEnumerable
{
    private readonly List<ConfigKey> _keys = [];
    private readonly List<(Func<T, YamlSection, T> Apply, Func<T, string?> Default)> _values = [];

    public override IReadOnlyList<ConfigKey> Keys => _keys;

    /// <summary>The kind of a value that is this section.</summary>
    public ValueKind<T> Kind => new("mapping", $$"""{"$section":"{{Path}}"}""", Read, _ => null, this) { IsMapping = true };

    public T Defaults(ConfigMapper map) => defaults(map);

    public override string? DefaultValue(ConfigKey key, ConfigMapper sample) => _values[_keys.IndexOf(key)].Default(defaults(sample));

    /// <summary>
    /// Adds a key (collection initializer): its name, kind, default (<paramref name="get"/> from the
    /// defaults), where it goes (no <paramref name="set"/>: checked, not kept), an example and its doc.
    /// </summary>
    public void Add<TValue>(string name, ValueKind<TValue> kind, Func<T, TValue>? get, Func<T, TValue, T>? set, string example, string doc, KeyOptions? options = null)
    {
        var key = new ConfigKey(name, kind, example, doc, options ?? new());
        _keys.Add(key);
        _values.Add(((record, section) => TryRead(section, key, kind, out var value) && set is not null ? set(record, value) : record,
            record => get is null || key.Options.Default is not null ? null : kind.Show(get(record))));
    }

    public T Read(ValueAt at)
    {
        var value = defaults(at.Map);
        if (Open(at) is not { } section) return value;
        foreach (var (apply, _) in _values) value = apply(value, section);
        return finish is null ? value : finish(value, section);
    }

    IEnumerator IEnumerable.GetEnumerator() => _keys.GetEnumerator();
}
