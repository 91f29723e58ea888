using System.Collections;

namespace Aeterna.Tool.Configuration;

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
