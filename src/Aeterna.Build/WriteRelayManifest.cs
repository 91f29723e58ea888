using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Aeterna.Build;

/// <summary>
/// Writes the relay manifest of an app: the schemas of the relay-state types in the app's assembly
/// and in every referenced assembly built with the generator, as <c>{"format":1,"types":[…]}</c>
/// (docs/wire-format.md, "Manifest"). The supervisor's pre-flight compares it with the running
/// generation's schema.
/// </summary>
public sealed class WriteRelayManifest : Microsoft.Build.Utilities.Task
{
    /// <summary>The app's compiled assembly.</summary>
    [Required]
    public ITaskItem Assembly { get; set; } = null!;

    /// <summary>The assemblies it references; those with a relay schema are included.</summary>
    public ITaskItem[] References { get; set; } = [];

    /// <summary>Where to write the manifest (<c>$(OutDir)$(TargetName).relay.json</c>).</summary>
    [Required]
    public string OutputFile { get; set; } = "";

    /// <inheritdoc/>
    public override bool Execute()
    {
        var fragments = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in References.Prepend(Assembly))
        {
            string path = item.GetMetadata("FullPath");
            try
            {
                if (RelaySchemaReader.Read(path) is { } schema) fragments[Path.GetFileNameWithoutExtension(path)] = schema;
            }
            catch (BadImageFormatException)
            {
                // Not a managed assembly (a native reference): it has no schema.
            }
        }
        string manifest = Merge(fragments.Values);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(OutputFile))!);
        // Rewrite only on change, so incremental builds and file watchers see no spurious edit.
        if (!File.Exists(OutputFile) || File.ReadAllText(OutputFile) != manifest)
            File.WriteAllText(OutputFile, manifest, new UTF8Encoding(false));
        Log.LogMessage(MessageImportance.Low, $"relay manifest: {OutputFile} ({fragments.Count} assemblies with relay state)");
        return true;
    }

    /// <summary>Splices the JSON arrays the generator wrote into one manifest.</summary>
    internal static string Merge(IEnumerable<string> fragments)
    {
        var items = fragments.Select(f => f.Trim()).Where(f => f.Length > 2).Select(f => f.Substring(1, f.Length - 2).Trim()).Where(f => f.Length > 0);
        return "{\"format\":1,\"types\":[" + string.Join(",", items) + "]}\n";
    }
}
