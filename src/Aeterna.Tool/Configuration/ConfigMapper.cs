using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// One file being read into <see cref="AeternaConfig"/> by <see cref="ConfigTable"/>: where it is,
/// and its errors. Every problem becomes a located <see cref="ConfigError"/> and the value falls
/// back to its default, so one pass reports everything; the caller discards the result when there
/// are errors.
/// </summary>
internal sealed class ConfigMapper(string sourcePath)
{
    private readonly List<ConfigError> _errors = [];
    private readonly Dictionary<string, (Mark At, string Owner)> _claims = new(StringComparer.Ordinal);

    /// <summary>Absolute path of the config file.</summary>
    public string SourcePath => sourcePath;

    /// <summary>Relative paths in the file start here.</summary>
    public string BaseDirectory => Path.GetDirectoryName(sourcePath)!;

    public IReadOnlyList<ConfigError> Errors => _errors;

    public AeternaConfig Map(YamlMappingNode root) => ConfigTable.Root.Read(new ValueAt(this, "", "", root, root.Start, ""));

    public void Error(Mark at, string message, string fix) =>
        _errors.Add(new ConfigError(sourcePath, Clamp(at.Line), Clamp(at.Column), message, fix));

    private static int Clamp(long value) => (int)Math.Clamp(value, 1, int.MaxValue);

    /// <summary>Claims <paramref name="identity"/> (a listener's name, its address) for <paramref name="owner"/>; the first claim when it was claimed before.</summary>
    public (Mark At, string Owner)? Claim(string identity, Mark at, string owner)
    {
        if (_claims.TryGetValue(identity, out var first)) return first;
        _claims[identity] = (at, owner);
        return null;
    }

    /// <summary>A YAML null: nothing after the colon, ~ or null (unquoted).</summary>
    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    public static string KindOf(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        _ when IsNull(node) => "empty",
        _ => "a single value",
    };

    /// <summary>The key and value <paramref name="key"/> of <paramref name="node"/> when it is a mapping that has it.</summary>
    public static (YamlNode Key, YamlNode Value)? Child(YamlNode? node, string key) =>
        node is YamlMappingNode mapping && mapping.Children.FirstOrDefault(c => c.Key is YamlScalarNode { Value: { } name } && name == key) is { Key: not null } child
            ? (child.Key, child.Value) : null;
}
