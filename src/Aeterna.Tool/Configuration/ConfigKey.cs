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
