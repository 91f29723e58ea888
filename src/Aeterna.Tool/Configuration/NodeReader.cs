using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// Typed reads of YAML nodes for one file. Every problem becomes a located <see cref="ConfigError"/>
/// and the read returns a fallback, so mapping goes on and one pass reports everything.
/// </summary>
internal sealed class NodeReader(string file)
{
    /// <summary>Upper bound for every duration: beyond a day a value is a typo, and TimeSpan arithmetic stays far from overflow.</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromHours(24);

    private readonly List<ConfigError> _errors = [];

    public string File { get; } = file;

    public IReadOnlyList<ConfigError> Errors => _errors;

    public void Error(Mark at, string message, string fix) =>
        _errors.Add(new ConfigError(File, Clamp(at.Line), Clamp(at.Column), message, fix));

    private static int Clamp(long value) => (int)Math.Clamp(value, 1, int.MaxValue);

    /// <summary>A YAML null: nothing after the colon, ~ or null (unquoted).</summary>
    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    /// <summary>Where to point at a value; an empty value has no place of its own, so its key.</summary>
    public static Mark At(YamlEntry entry) => IsNull(entry.Value) ? entry.KeyNode.Start : entry.Value.Start;

    public static string KindOf(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        _ when IsNull(node) => "empty",
        _ => "a single value",
    };

    /// <summary>Reports that <paramref name="what"/> is the wrong kind of node; <paramref name="examplePath"/> picks the example (default: <paramref name="what"/>).</summary>
    public void WrongKind(string what, YamlNode node, Mark at, string expected, string? examplePath = null) =>
        Error(at, $"{what} must be {expected}, but it is {KindOf(node)}.", $"Write it like this: {ConfigSchema.Example(examplePath ?? what)}");

    /// <summary>
    /// Opens <paramref name="node"/> as a section allowing <paramref name="keys"/>, reporting
    /// unknown keys. An empty value opens as an empty section; anything but a mapping is an error (null).
    /// </summary>
    public YamlSection? Section(YamlNode node, string path, Mark location, IReadOnlyList<string> keys)
    {
        var entries = new Dictionary<string, YamlEntry>(StringComparer.Ordinal);
        if (IsNull(node))
            return new YamlSection(path, location, entries);
        if (node is not YamlMappingNode mapping)
        {
            WrongKind(path.Length == 0 ? "the top level" : path, node, node.Start, "a mapping (key: value lines)");
            return null;
        }
        foreach (var (keyNode, value) in mapping.Children)
        {
            // StrictYamlParser dropped every key that is not a scalar.
            var key = (YamlScalarNode)keyNode;
            string name = key.Value ?? "";
            string where = path.Length == 0 ? "the top level" : $"'{path}'";
            if (!keys.Contains(name, StringComparer.Ordinal))
                Error(key.Start, $"unknown key '{ConfigText.Show(name)}' in {where}.", ConfigSchema.UnknownKeyFix(name, SchemaSection(path), keys));
            else
                entries[name] = new YamlEntry(name, path.Length == 0 ? name : $"{path}.{name}", key, value);
        }
        return new YamlSection(path, location, entries);
    }

    /// <summary>The sub-section under <paramref name="key"/>; null when absent or not a mapping.</summary>
    public YamlSection? Section(YamlSection parent, string key, IReadOnlyList<string> keys) =>
        parent[key] is { } entry ? Section(entry.Value, entry.Path, entry.KeyNode.Start, keys) : null;

    /// <summary>The text of a single value; null when absent or empty, or (after an error) when it is a list or mapping.</summary>
    public string? Scalar(YamlSection section, string key, string expected = "a single value")
    {
        if (section[key] is not { } entry || IsNull(entry.Value)) return null;
        if (entry.Value is YamlScalarNode scalar) return scalar.Value ?? "";
        WrongKind(entry.Path, entry.Value, entry.Value.Start, expected);
        return null;
    }

    public bool Bool(YamlSection section, string key, bool fallback)
    {
        string? text = Scalar(section, key, "true or false");
        if (text is null) return fallback;
        if (text.Equals("true", StringComparison.OrdinalIgnoreCase)) return true;
        if (text.Equals("false", StringComparison.OrdinalIgnoreCase)) return false;
        var entry = section[key]!;
        Error(At(entry), $"{entry.Path} is '{ConfigText.Show(text)}'; it must be true or false.", $"Write {key}: true or {key}: false.");
        return fallback;
    }

    public int Int(YamlSection section, string key, int fallback, int min, int max)
    {
        string? text = Scalar(section, key, "a whole number");
        if (text is null) return fallback;
        var entry = section[key]!;
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
        {
            Error(At(entry), $"{entry.Path} is '{ConfigText.Show(text)}'; it must be a whole number from {min} to {max}.", $"Write it like this: {ConfigSchema.Example(entry.Path)}");
            return fallback;
        }
        if (value < min || value > max)
        {
            Error(At(entry), $"{entry.Path} is {value}; it must be from {min} to {max}.", $"Use a number from {min} to {max}, e.g. {ConfigSchema.Example(entry.Path)}");
            return fallback;
        }
        return (int)value;
    }

    /// <summary>A duration from 0 (or just above, unless <paramref name="allowZero"/>) to <see cref="MaxDuration"/>.</summary>
    public TimeSpan Duration(YamlSection section, string key, TimeSpan fallback, bool allowZero)
    {
        string? text = Scalar(section, key, "a duration string such as 30s");
        if (text is null) return fallback;
        var entry = section[key]!;
        if (!Configuration.Duration.TryParse(text, out var value, out string? message, out string? fix))
        {
            Error(At(entry), $"{entry.Path}: {message}", fix!);
            return fallback;
        }
        if (value == TimeSpan.Zero && !allowZero)
        {
            Error(At(entry), $"{entry.Path} is {ConfigText.Show(text)}; it must be more than 0.", $"Use a positive duration, e.g. {ConfigSchema.Example(entry.Path)}");
            return fallback;
        }
        if (value > MaxDuration)
        {
            Error(At(entry), $"{entry.Path} is {ConfigText.Show(text)}; durations longer than 24h are not supported.", $"Use at most 24h, e.g. {ConfigSchema.Example(entry.Path)}");
            return fallback;
        }
        return value;
    }

    /// <summary>A rate from 0 to 1, written as a fraction (0.05) or a percentage ("5%").</summary>
    public double Rate(YamlSection section, string key, double fallback)
    {
        string? text = Scalar(section, key, "a fraction such as 0.05 or a percentage such as 5%");
        if (text is null) return fallback;
        var entry = section[key]!;
        string t = text.Trim();
        bool percent = t.EndsWith('%');
        if (double.TryParse(percent ? t[..^1] : t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value))
        {
            if (percent) value /= 100;
            if (value is >= 0 and <= 1) return value;
        }
        Error(At(entry), $"{entry.Path} is '{ConfigText.Show(text)}'; it must be a fraction from 0 to 1 or a percentage from 0% to 100%.", $"Write it like this: {ConfigSchema.Example(entry.Path)}");
        return fallback;
    }

    /// <summary>A byte size (<see cref="ByteSize"/>) of at least <paramref name="min"/>.</summary>
    public long Size(YamlSection section, string key, long fallback, long min)
    {
        string? text = Scalar(section, key, "a size such as 1GiB");
        if (text is null) return fallback;
        var entry = section[key]!;
        if (!ByteSize.TryParse(text, out long value, out string? message, out string? fix))
        {
            Error(At(entry), $"{entry.Path}: {message}", fix!);
            return fallback;
        }
        if (value < min)
        {
            Error(At(entry), $"{entry.Path} is {ConfigText.Show(text)}; it must be at least {ByteSize.Format(min)}.", $"Use a larger size, e.g. {ConfigSchema.Example(entry.Path)}");
            return fallback;
        }
        return value;
    }

    /// <summary>One of <paramref name="choices"/>, matched case-insensitively.</summary>
    public T Choice<T>(YamlSection section, string key, T fallback, IReadOnlyList<(string Name, T Value)> choices)
    {
        string? text = Scalar(section, key, $"one of {string.Join(", ", choices.Select(c => c.Name))}");
        if (text is null) return fallback;
        foreach (var (name, value) in choices)
            if (name.Equals(text.Trim(), StringComparison.OrdinalIgnoreCase)) return value;
        var entry = section[key]!;
        string[] names = choices.Select(c => c.Name).ToArray();
        string? close = ConfigSchema.ClosestKey(text.Trim(), names);
        Error(At(entry), $"{entry.Path} is '{ConfigText.Show(text)}'; it must be one of: {string.Join(", ", names)}.",
            close is not null ? $"Did you mean '{close}'? Write {key}: {close}." : $"Write one of them, e.g. {key}: {names[0]}.");
        return fallback;
    }

    /// <summary>The schema section a path belongs to ("listeners[0]" → "listeners").</summary>
    private static string SchemaSection(string path)
    {
        int bracket = path.IndexOf('[');
        return bracket < 0 ? path : path[..bracket] + path[(path.IndexOf(']', bracket) + 1)..];
    }
}
