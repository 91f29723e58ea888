using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Aeterna.Tool.Configuration;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Aeterna.Tool.Tests.Configuration;

/// <summary>
/// What <see cref="ConfigTable"/> generates: the key tables of docs/configuration.md (between
/// <c>&lt;!-- keys of PATH --&gt;</c> and <c>&lt;!-- end of keys --&gt;</c>; the prose around them
/// is written by hand) and the JSON Schema editors use, aeterna.schema.json (draft-07, the
/// draft the YAML language server reads).
/// </summary>
internal static partial class ConfigReference
{
    [GeneratedRegex(@"(?<start><!-- keys of (?<path>[^ ]*) -->\n).*?(?<end><!-- end of keys -->)", RegexOptions.Singleline)]
    private static partial Regex Region();

    public static ConfigSection Section(string path) =>
        ConfigTable.Sections.Single(s => s.Path == (path == "top-level" ? "" : path));

    /// <summary><paramref name="markdown"/> with every key table generated anew.</summary>
    public static string Markdown(string markdown) =>
        Region().Replace(markdown, m => m.Groups["start"].Value + Table(Section(m.Groups["path"].Value)) + m.Groups["end"].Value);

    /// <summary>The paths of the sections <paramref name="markdown"/> has a table of.</summary>
    public static IReadOnlyList<string> TablesIn(string markdown) => [.. Region().Matches(markdown).Select(m => Section(m.Groups["path"].Value).Path)];

    public static string Table(ConfigSection section)
    {
        var text = new StringBuilder("| key | type | default | meaning |\n| --- | --- | --- | --- |\n");
        foreach (var key in section.Keys)
        {
            string meaning = key.Doc;
            if (key.Kind.Section is { } opened && opened != section)
                meaning += $" Its keys: [`{opened.Path}`](#{Anchor(opened)}).";
            text.Append(CultureInfo.InvariantCulture, $"| `{key.Name}` | {key.Kind.Type} | {Default(key)} | {meaning.Replace(" | ", " \\| ")} |\n");
        }
        return text.ToString();
    }

    /// <summary>GitHub's anchor of the heading "`path`".</summary>
    public static string Anchor(ConfigSection section) => section.Path.Replace(".", "");

    private static string Default(ConfigKey key) =>
        key.Required ? "**required**" : key.DefaultInWords ?? (key.Kind.IsMapping ? "" : key.Default is { } value ? $"`{value}`" : "none");

    public static string Schema()
    {
        var root = SectionSchema(ConfigTable.Root);
        var schema = new JsonObject
        {
            ["$schema"] = "http://json-schema.org/draft-07/schema#",
            ["title"] = "aeterna.yaml",
            ["description"] = "The config of one service under the Aeterna supervisor (dotnet aeterna). Reference: docs/configuration.md.",
        };
        foreach (var (name, value) in root.ToList())
        {
            root.Remove(name);
            schema[name] = value;
        }
        return schema.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";
    }

    private static JsonObject SectionSchema(ConfigSection section)
    {
        var properties = new JsonObject();
        foreach (var key in section.Keys)
        {
            var property = Expand(JsonNode.Parse(key.Kind.Schema)!);
            if (property is not JsonObject { } item) throw new InvalidOperationException($"{key.Name}: the schema of a kind is an object");
            // A key with no value counts as not set (a section: empty), as the loader reads it; a required one must have a value.
            if (!key.Required)
            {
                JsonNode none = new JsonObject { ["type"] = "null" };
                item = item.Count == 1 && item["anyOf"] is JsonArray choices
                    ? new JsonObject { ["anyOf"] = new JsonArray([none, .. choices.Select(c => c!.DeepClone())]) }
                    : new JsonObject { ["anyOf"] = new JsonArray(none, item) };
            }
            var described = new JsonObject { ["description"] = key.Doc };
            if (!key.Required && key.DefaultInWords is null && !key.Kind.IsMapping && key.Default is { } value) described["default"] = Json(value);
            described["examples"] = new JsonArray(Json(key.Example));
            foreach (var (name, child) in item.ToList())
            {
                item.Remove(name);
                described[name] = child;
            }
            properties[key.Name] = described;
        }
        var schema = new JsonObject { ["type"] = "object", ["additionalProperties"] = false, ["properties"] = properties };
        string[] required = [.. section.Keys.Where(k => k.Required).Select(k => k.Name)];
        if (required.Length > 0) schema["required"] = new JsonArray([.. required.Select(r => (JsonNode)r)]);
        return schema;
    }

    /// <summary>A kind's schema with each <c>{"$section": path}</c> replaced by that section's schema.</summary>
    private static JsonNode Expand(JsonNode node) => node switch
    {
        JsonObject o when o["$section"] is JsonValue path => SectionSchema(Section(path.GetValue<string>() is "" ? "top-level" : path.GetValue<string>())),
        JsonObject o => new JsonObject(o.ToList().Select(p => KeyValuePair.Create(p.Key, (JsonNode?)Expand(p.Value!.DeepClone())))),
        JsonArray a => new JsonArray([.. a.Select(i => Expand(i!.DeepClone()))]),
        _ => node.DeepClone(),
    };

    /// <summary>A YAML value as JSON, scalars resolved the way the YAML language server does (YAML 1.2 core schema).</summary>
    public static JsonNode? Json(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return Json(stream.Documents[0].RootNode);
    }

    private static JsonNode? Json(YamlNode node) => node switch
    {
        YamlMappingNode m => new JsonObject(m.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value!, Json(c.Value)))),
        YamlSequenceNode s => new JsonArray([.. s.Children.Select(Json)]),
        YamlScalarNode { Style: not (ScalarStyle.Plain or ScalarStyle.Any) } q => q.Value,
        YamlScalarNode { Value: null or "" or "~" or "null" or "Null" or "NULL" } => null,
        YamlScalarNode { Value: "true" or "True" or "TRUE" } => true,
        YamlScalarNode { Value: "false" or "False" or "FALSE" } => false,
        YamlScalarNode p when long.TryParse(p.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n) => n,
        YamlScalarNode p when Regex.IsMatch(p.Value!, @"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$") => double.Parse(p.Value!, CultureInfo.InvariantCulture),
        YamlScalarNode p => p.Value,
        _ => throw new InvalidOperationException("an alias in an example"),
    };
}
