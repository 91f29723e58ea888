using System.Collections;
using YamlDotNet.RepresentationModel;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// A type of value in aeterna.yaml: how it is read (reporting what is wrong and the fix), how a
/// value is written back (defaults in the reference and the schema), and how the reference and
/// the JSON Schema describe it.
/// </summary>
internal abstract class ValueKind(string type, string schema)
{
    /// <summary>The type as the reference names it, e.g. "duration > 0".</summary>
    public string Type => type;

    /// <summary>
    /// The JSON Schema (draft-07) of a value, as JSON text; a section appears in it as
    /// <c>{"$section": "path"}</c>, to be replaced by that section's own schema.
    /// </summary>
    public string Schema => schema;

    /// <summary>The section a value of this kind opens (itself, or each item of a list); null for plain values.</summary>
    public virtual ConfigSection? Section => null;

    /// <summary>A section: an empty value opens as an empty mapping, so that its required keys are still asked for.</summary>
    public bool IsMapping { get; init; }
}

/// <summary>A <see cref="ValueKind"/> whose values are <typeparamref name="T"/>.</summary>
internal sealed class ValueKind<T>(string type, string schema, Func<ValueAt, T> read, Func<T, string?>? show = null, ConfigSection? section = null)
    : ValueKind(type, schema)
{
    public override ConfigSection? Section => section;

    /// <summary>The value at <paramref name="at"/>; after an error (<see cref="ValueAt.Failed"/>) anything.</summary>
    public T Read(ValueAt at) => read(at);

    /// <summary>The value as YAML (e.g. "30s"); null when it is "none" (no value, an empty list).</summary>
    public string? Show(T value) => show is null ? value?.ToString() : show(value);
}

/// <summary>One value of the file being read: its path for messages, its node and place, and how to write it right.</summary>
internal sealed class ValueAt(ConfigMapper map, string path, string name, YamlNode node, YamlDotNet.Core.Mark location, string example)
{
    public ConfigMapper Map => map;

    /// <summary>Dotted path for messages: "readiness.timeout", "listeners[0]".</summary>
    public string Path => path;

    /// <summary>The key the value belongs to ("timeout"; a list item has its list's key).</summary>
    public string Name => name;

    public YamlNode Node => node;

    /// <summary>Where the key is (a list item: where it starts), for "has no …" errors about what it holds.</summary>
    public YamlDotNet.Core.Mark Location => location;

    /// <summary>A line that writes it right, for fixes: "timeout: 30s", "- [\"./check.sh\"]".</summary>
    public string Example => example;

    /// <summary>Whether reading it reported an error.</summary>
    public bool Failed { get; private set; }

    public T Fail<T>(string message, string fix) => FailAt<T>(node.Start, message, fix);

    public T FailAt<T>(YamlDotNet.Core.Mark at, string message, string fix)
    {
        Failed = true;
        map.Error(at, message, fix);
        return default!;
    }

    /// <summary>Reports that the node is the wrong kind of node (<paramref name="what"/> defaults to the path).</summary>
    public T WrongKind<T>(string expected, string? what = null) =>
        Fail<T>($"{what ?? path} must be {expected}, but it is {ConfigMapper.KindOf(node)}.", $"Write it like this: {example}");

    /// <summary>Reports that <paramref name="part"/> of the value (a word, an item) is the wrong kind of node; the value fails.</summary>
    public void WrongKindAt(YamlNode part, string expected, string what) =>
        Report(part.Start, $"{what} must be {expected}, but it is {ConfigMapper.KindOf(part)}.", $"Write it like this: {example}");

    /// <summary>Item <paramref name="index"/> of a list, its example the list's first item.</summary>
    public ValueAt Item(int index, YamlNode item)
    {
        string value = example[(example.IndexOf(": ", StringComparison.Ordinal) + 2)..];
        string first = value.StartsWith('[') && value.EndsWith(']') ? value[1..^1] : value;
        return new ValueAt(map, $"{path}[{index}]", name, item, item.Start, $"- {first}");
    }

    /// <summary>A problem inside the value that does not stop the rest of it from being read.</summary>
    public void Report(YamlDotNet.Core.Mark at, string message, string fix)
    {
        Failed = true;
        map.Error(at, message, fix);
    }
}

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

/// <summary>One key of aeterna.yaml: the single description the loader, the suggestions, the reference and the JSON Schema use.</summary>
internal abstract class ConfigKey(string name, string example, string doc, KeyOptions? options)
{
    public string Name => name;

    /// <summary>An example value, as YAML.</summary>
    public string Example => example;

    /// <summary>One line for the reference and the schema (Markdown).</summary>
    public string Doc => doc;

    public KeyOptions Options { get; } = options ?? new();

    /// <summary>"name: example", the line fixes show.</summary>
    public string Line => $"{name}: {example}";

    public abstract ValueKind Kind { get; }
}

/// <summary>A key of a section whose value is <typeparamref name="T"/>.</summary>
internal abstract class ConfigKey<T>(string name, string example, string doc, KeyOptions? options) : ConfigKey(name, example, doc, options)
{
    /// <summary><paramref name="record"/> with this key's value from <paramref name="section"/> (unchanged when absent or wrong).</summary>
    public abstract T Apply(T record, YamlSection section, ConfigMapper map);

    /// <summary>The default as YAML, read from the section's <paramref name="defaults"/>; null when there is none or it is said in words.</summary>
    public abstract string? DefaultValue(T defaults);
}

/// <summary>A key whose value is a <typeparamref name="TValue"/>, kept in <typeparamref name="T"/> by <c>set</c> (no <c>set</c>: checked, not kept).</summary>
internal sealed class ConfigKey<T, TValue>(string name, ValueKind<TValue> kind, Func<T, TValue>? get, Func<T, TValue, T>? set, string example, string doc, KeyOptions? options)
    : ConfigKey<T>(name, example, doc, options)
{
    public override ValueKind Kind => kind;

    public override string? DefaultValue(T defaults) => get is null || Options.Default is not null ? null : kind.Show(get(defaults));

    public override T Apply(T record, YamlSection section, ConfigMapper map) =>
        map.TryRead(section, this, kind, out var value) && set is not null ? set(record, value) : record;
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
}

/// <summary>A section read into a <typeparamref name="T"/>: its defaults, then each key present, then the checks across its keys.</summary>
internal sealed class ConfigSection<T>(string path, Func<ConfigMapper, T> defaults, Action<T, YamlSection, ConfigMapper>? check = null)
    : ConfigSection(path), IEnumerable<ConfigKey<T>>
{
    private readonly List<ConfigKey<T>> _keys = [];

    public override IReadOnlyList<ConfigKey> Keys => _keys;

    /// <summary>The kind of a value that is this section.</summary>
    public ValueKind<T> Kind => new("mapping", $$"""{"$section":"{{Path}}"}""", Read, _ => null, this) { IsMapping = true };

    public T Defaults(ConfigMapper map) => defaults(map);

    public override string? DefaultValue(ConfigKey key, ConfigMapper sample) => ((ConfigKey<T>)key).DefaultValue(defaults(sample));

    /// <summary>Adds a key (collection initializer): its name, kind, default (read from the defaults), where it goes, an example and its doc.</summary>
    public void Add<TValue>(string name, ValueKind<TValue> kind, Func<T, TValue>? get, Func<T, TValue, T>? set, string example, string doc, KeyOptions? options = null) =>
        _keys.Add(new ConfigKey<T, TValue>(name, kind, get, set, example, doc, options));

    public T Read(ValueAt at)
    {
        if (at.Map.Open(at, this) is not { } section) return defaults(at.Map);
        var value = defaults(at.Map);
        foreach (var key in _keys) value = key.Apply(value, section, at.Map);
        check?.Invoke(value, section, at.Map);
        return value;
    }


    public IEnumerator<ConfigKey<T>> GetEnumerator() => _keys.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
