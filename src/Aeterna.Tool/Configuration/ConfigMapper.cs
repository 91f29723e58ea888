using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// Reads the YAML tree of one file into <see cref="AeternaConfig"/> by <see cref="ConfigTable"/>,
/// keeping each value's place for errors. Every problem becomes a located <see cref="ConfigError"/>
/// and the value falls back to its default, so one pass reports everything; the caller discards
/// the result when there are errors.
/// </summary>
internal sealed class ConfigMapper(string sourcePath)
{
    private readonly List<ConfigError> _errors = [];
    private string? _controlSocket;

    /// <summary>Absolute path of the config file.</summary>
    public string SourcePath => sourcePath;

    /// <summary>Relative paths in the file start here.</summary>
    public string BaseDirectory => Path.GetDirectoryName(sourcePath)!;

    public IReadOnlyList<ConfigError> Errors => _errors;

    /// <summary>The config file's name without extension, made into a valid service name.</summary>
    public string DefaultServiceName
    {
        get
        {
            string name = Regex.Replace(Path.GetFileNameWithoutExtension(sourcePath), "[^A-Za-z0-9_.-]", "-");
            return name.Length == 0 ? "service" : name[..Math.Min(name.Length, 64)];
        }
    }

    /// <summary>A file beside the control socket (in its directory): the default of the paths that live there.</summary>
    public string BesideControlSocket(string name) =>
        Path.Combine(Path.GetDirectoryName(_controlSocket ?? ControlSocketPath.Default(sourcePath))!, name);

    public void Error(Mark at, string message, string fix) =>
        _errors.Add(new ConfigError(sourcePath, Clamp(at.Line), Clamp(at.Column), message, fix));

    private static int Clamp(long value) => (int)Math.Clamp(value, 1, int.MaxValue);

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

    public AeternaConfig Map(YamlMappingNode rootNode)
    {
        var root = Open(new ValueAt(this, "", "", rootNode, rootNode.Start, ""), ConfigTable.Root)!;
        T Read<T>(string key, T fallback)
        {
            var spec = ConfigTable.Root.Key(key)!;
            return TryRead(root, spec, (ValueKind<T>)spec.Kind, out var value) ? value : fallback;
        }

        Read("version", "1.0");
        // The control socket first: the default paths of the hand-over socket and the relay history are beside it.
        var control = Read("control", ConfigTable.Control.Defaults(this));
        _controlSocket = control.SocketPath;
        var orchestration = Read("orchestration", ConfigTable.Orchestration.Defaults(this));
        if (root["handoff"] is { } top)
        {
            var handoff = Read<StateHandoffConfig?>("handoff", null);
            if (Child(root["orchestration"]?.Value, "state_handoff") is { } nested)
                Error(top.KeyNode.Start, $"the state hand-over is configured twice: here and in orchestration.state_handoff (line {nested.Key.Start.Line}).",
                    "Keep orchestration.state_handoff: move any settings from this 'handoff' section into it, then delete 'handoff'.");
            else if (handoff is not null)
                orchestration = orchestration with { StateHandoff = handoff };
        }
        var config = new AeternaConfig
        {
            SourcePath = sourcePath,
            Service = Read("service", ConfigTable.Service.Defaults(this)),
            Listeners = Read<IReadOnlyList<ListenerConfig>>("listeners", []),
            Readiness = Read("readiness", ConfigTable.Readiness.Defaults(this)),
            Orchestration = orchestration,
            Control = control,
            Observability = Read("observability", ConfigTable.Observability.Defaults(this)),
            Watch = Read("watch", ConfigTable.Watch.Defaults(this)),
        };
        ConfigChecks.AcrossSections(config, root, this);
        return config;
    }

    /// <summary>
    /// Reads <paramref name="key"/> of <paramref name="section"/>: false when it is absent or empty
    /// (an error if it is required) or its value is wrong (reported).
    /// </summary>
    public bool TryRead<T>(YamlSection section, ConfigKey key, ValueKind<T> kind, out T value)
    {
        value = default!;
        var entry = section[key.Name];
        if (entry is null)
        {
            if (key.Options.Required)
                Error(section.Location, $"{(section.Path.Length == 0 ? "the config" : section.Path)} has no '{key.Name}'.",
                    $"Add it{(section.Path.Length == 0 ? " at the top level" : $" under {section.Path}")}, e.g. {key.Line}");
            return false;
        }
        if (IsNull(entry.Value) && !kind.IsMapping)
        {
            if (key.Options.Required) Error(entry.KeyNode.Start, $"{entry.Path} is empty.", $"Give it a value, e.g. {key.Line}");
            return false;
        }
        var at = new ValueAt(this, entry.Path, key.Name, entry.Value, entry.KeyNode.Start, key.Line);
        value = kind.Read(at);
        return !at.Failed;
    }

    /// <summary>
    /// Opens the value at <paramref name="at"/> as <paramref name="schema"/>, reporting unknown keys.
    /// An empty value opens as an empty section; anything but a mapping is an error (null).
    /// </summary>
    public YamlSection? Open(ValueAt at, ConfigSection schema)
    {
        var entries = new Dictionary<string, YamlEntry>(StringComparer.Ordinal);
        if (IsNull(at.Node))
            return new YamlSection(at.Path, at.Location, entries);
        if (at.Node is not YamlMappingNode mapping)
        {
            at.WrongKind<object>("a mapping (key: value lines)");
            return null;
        }
        foreach (var (keyNode, value) in mapping.Children)
        {
            // StrictYamlParser dropped every key that is not a scalar.
            var key = (YamlScalarNode)keyNode;
            string name = key.Value ?? "";
            if (schema.Key(name) is null)
                Error(key.Start, $"unknown key '{ConfigText.Show(name)}' in {(at.Path.Length == 0 ? "the top level" : $"'{at.Path}'")}.", KeySuggestions.UnknownKeyFix(name, schema));
            else
                entries[name] = new YamlEntry(name, at.Path.Length == 0 ? name : $"{at.Path}.{name}", key, value);
        }
        return new YamlSection(at.Path, at.Location, entries);
    }

    /// <summary>The key and value <paramref name="key"/> of <paramref name="node"/> when it is a mapping that has it.</summary>
    public static (YamlScalarNode Key, YamlNode Value)? Child(YamlNode? node, string key)
    {
        if (node is YamlMappingNode mapping)
            foreach (var (k, v) in mapping.Children)
                if (k is YamlScalarNode { Value: { } name } scalar && name == key) return (scalar, v);
        return null;
    }
}
