using System.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// Reads aeterna.yaml into a validated <see cref="AeternaConfig"/>. Never throws on bad input:
/// a missing file, binary data, YAML syntax errors and every invalid value come back as located
/// <see cref="ConfigError"/>s, all of them from one pass, sorted by position.
/// docs/configuration.md is the reference for the format.
/// </summary>
internal static class ConfigLoader
{
    /// <summary>Configs are a few hundred bytes; this only stops `-c /dev/zero` or a wrong multi-gigabyte file.</summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>Past this many errors the file is probably not a config at all; more lines would only bury the first ones.</summary>
    public const int MaxErrors = 100;

    private const string MinimalExample = "service: {command: [\"python\", \"agent.py\"]}";

    public static ConfigLoadResult Load(string path)
    {
        string file;
        try
        {
            file = Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            return Failed(path, $"'{ConfigText.Show(path)}' is not a valid file path.", "Pass the config file with -c, e.g. -c ./aeterna.yaml.");
        }

        byte[] buffer;
        int total = 0;
        try
        {
            if (Directory.Exists(file))
                return Failed(file, $"{file} is a directory, not a config file.", $"Pass the file itself, e.g. -c {Path.Combine(file, "aeterna.yaml")}.");
            // Unbuffered, into a buffer the file's size and one byte more (so the read that finds the end needs no room):
            // a load costs what the file costs. A pipe or device has no size and grows the buffer as it is read.
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            buffer = new byte[Math.Clamp(stream.CanSeek ? stream.Length + 1 : 4096, 1, MaxFileBytes + 1)];
            for (int n; (n = stream.Read(buffer, total, buffer.Length - total)) > 0;)
            {
                if ((total += n) > MaxFileBytes)
                    return Failed(file, $"{file} is larger than {MaxFileBytes / 1024} KiB; that is not a config file.", "Pass the right file with -c PATH.");
                if (total == buffer.Length) Array.Resize(ref buffer, Math.Min(2 * buffer.Length, MaxFileBytes + 1));
            }
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Failed(file, $"there is no config file at {file}.",
                "Create it (docs/configuration.md has a minimal example) or pass the right file with -c PATH.");
        }
        catch (UnauthorizedAccessException)
        {
            return Failed(file, $"{file} cannot be read: permission denied.", "Make it readable by this user (chmod u+r), or run as a user who can read it.");
        }
        catch (IOException e)
        {
            return Failed(file, $"{file} cannot be read: {e.Message}", "Check that the path names a regular, readable file.");
        }

        return Decode(buffer.AsSpan(0, total), file, out string? text) is { } error ? ConfigLoadResult.Invalid([error]) : Parse(text!, file);
    }

    /// <summary>Parses config text as if read from <paramref name="sourcePath"/> (made absolute; relative paths in the config start from its directory).</summary>
    public static ConfigLoadResult Parse(string yaml, string sourcePath)
    {
        string file = Path.GetFullPath(sourcePath);
        var reader = new ConfigMapper(file);
        string? controlSocket = null;
        try
        {
            if (ReadDocument(yaml.StartsWith('\uFEFF') ? yaml[1..] : yaml, reader) is { } root)
            {
                var config = reader.Map(root);
                if (reader.Errors.Count == 0)
                    return ConfigLoadResult.Valid(config);
                controlSocket = config.Control.SocketPath;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A bug in this loader, not a problem in the file; still an error rather than a crash.
            reader.Error(Mark.Empty, $"the config could not be read because of an internal error ({e.GetType().Name}: {e.Message}).",
                "Please report this as an Aeterna bug, with the config file.");
        }
        var errors = reader.Errors.OrderBy(e => e.Line).ThenBy(e => e.Column).ToList();
        if (errors.Count > MaxErrors)
        {
            var next = errors[MaxErrors];
            errors = [.. errors.Take(MaxErrors), next with { Message = $"{errors.Count - MaxErrors} more errors from here on are not shown.", Fix = "Fix the errors above and check the file again." }];
        }
        return ConfigLoadResult.Invalid(errors, controlSocket);
    }

    /// <summary>The single document's root mapping; null (with errors) when there is none to map.</summary>
    private static YamlMappingNode? ReadDocument(string yaml, ConfigMapper reader)
    {
        var parser = new StrictYamlParser(new Parser(new StringReader(yaml)), reader.Error);
        var stream = new YamlStream();
        try
        {
            stream.Load(parser);
        }
        catch (StrictYamlParser.StopException e)
        {
            reader.Error(e.At, e.Message, e.Fix);
            return null;
        }
        catch (YamlException e)
        {
            var at = e.Message.Contains("tab", StringComparison.OrdinalIgnoreCase) ? FirstIndentingTab(yaml, e.Start) : e.Start;
            reader.Error(at, $"YAML syntax error: {Sentence(e.Message)}", SyntaxFix(e.Message));
            return null;
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            // YamlDotNet occasionally fails without a position (e.g. an unclosed '[' followed by more lines).
            var (at, inFlow) = parser.LastPosition;
            reader.Error(at, inFlow ? "YAML syntax error: the '[' or '{' here is never closed (or something inside it is malformed)."
                : "YAML syntax error somewhere after this point.",
                inFlow ? "Close it with ']' or '}', or write the list or mapping in block style, one item per line." : "Check the indentation, quotes and brackets after this point.");
            return null;
        }

        if (stream.Documents.Count == 0 || ConfigMapper.IsNull(stream.Documents[0].RootNode))
        {
            reader.Error(Mark.Empty, "the config file is empty: it has no settings.", $"Add at least a service to run, e.g. {MinimalExample}");
            return null;
        }
        if (stream.Documents.Count > 1)
            reader.Error(stream.Documents[1].RootNode.Start, $"the file holds {stream.Documents.Count} YAML documents (separated by '---'); a config is one document.",
                "Keep one: delete the '---' line and the document after it, or merge the two.");

        var root = stream.Documents[0].RootNode;
        if (root is YamlMappingNode mapping) return mapping;
        reader.Error(root.Start, root is YamlSequenceNode
                ? "the top level of the config is a list; it must be a mapping of sections (service:, listeners:, …)."
                : $"the top level of the config is a single value ('{ConfigText.Show(((YamlScalarNode)root).Value ?? "")}'); it must be a mapping of sections (service:, listeners:, …).",
            root is YamlSequenceNode ? $"Remove the leading '- ' so the file starts with the sections, e.g. {MinimalExample}" : $"Start the file with the sections, e.g. {MinimalExample}");
        return null;
    }

    /// <summary>Strict UTF-8, so binary data is reported where it starts instead of parsed as replacement characters.</summary>
    private static ConfigError? Decode(ReadOnlySpan<byte> bytes, string file, out string? text)
    {
        int start = bytes.StartsWith("\uFEFF"u8) ? 3 : 0;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes[start..]);
            return null;
        }
        catch (DecoderFallbackException e)
        {
            text = null;
            int index = start + Math.Max(0, e.Index);
            int line = 1 + bytes[..index].Count((byte)'\n');
            int lineStart = bytes[..index].LastIndexOf((byte)'\n') + 1;
            return new ConfigError(file, line, 1 + Encoding.UTF8.GetCharCount(bytes[lineStart..index]),
                "the file is not UTF-8 text (it may be binary or use another encoding).", "Save it as UTF-8, or pass the right file with -c PATH.");
        }
    }

    /// <summary>YamlDotNet places tab errors at the enclosing mapping; the tab itself is more useful.</summary>
    private static Mark FirstIndentingTab(string yaml, Mark reported)
    {
        string[] lines = yaml.Split('\n');
        for (int i = (int)Math.Max(0, reported.Line - 1); i < lines.Length; i++)
        {
            int column = lines[i].IndexOf('\t');
            if (column >= 0 && lines[i][..column].Trim().Length == 0)
                return new Mark(0, i + 1, column + 1);
        }
        return reported;
    }

    private static ConfigLoadResult Failed(string file, string message, string fix) =>
        ConfigLoadResult.Invalid([new ConfigError(file, 1, 1, message, fix)]);

    /// <summary>YamlDotNet's messages start with a capital and name the parser's state; ours continue a sentence.</summary>
    private static string Sentence(string message)
    {
        string text = message.Trim();
        if (text.Length > 0) text = char.ToLowerInvariant(text[0]) + text[1..];
        return text.EndsWith('.') ? text : text + ".";
    }

    /// <summary>The likely fix for a YamlDotNet syntax error, by what its message says.</summary>
    private static string SyntaxFix(string message)
    {
        string m = message.ToLowerInvariant();
        if (m.Contains("tab")) return "Indent with spaces; YAML does not allow tabs for indentation.";
        if (m.Contains("quoted scalar") && m.Contains("end of stream")) return "Close the quote.";
        if (m.Contains("escape")) return "In double quotes write a backslash as \\\\, or use single quotes.";
        if (m.Contains("flow sequence")) return "Close the list with ']' and separate items with ','.";
        if (m.Contains("flow mapping")) return "Close the mapping with '}' and separate entries with ','.";
        if (m.Contains("invalid mapping") || m.Contains("mapping values are not allowed"))
            return "Quote values that contain ': ' (e.g. \"a: b\"), and check the indentation of the line.";
        if (m.Contains("expected key") || m.Contains("'-' indicator") || m.Contains("indentation"))
            return "Check the indentation: the keys of one mapping, and the '- ' items of one list, must start in the same column.";
        if (m.Contains("expected ':'")) return "Put ': ' after the key, or quote the value if it is the continuation of the line above.";
        if (m.Contains("anchor") || m.Contains("alias")) return "Anchors (&name) and aliases (*name) need a plain name; write the value out if unsure.";
        return "Check the indentation, quotes and brackets at this position.";
    }
}

/// <summary>
/// The outcome of reading a config: either a validated <see cref="AeternaConfig"/> and no errors,
/// or no config and every error found in the file, in file order. The control socket the file
/// names is set as far as it could be read, for every file that parsed as YAML, valid or not, so
/// that `status` and `stop` reach the running supervisor while its config is being edited.
/// </summary>
internal sealed record ConfigLoadResult(AeternaConfig? Config, IReadOnlyList<ConfigError> Errors, string? ControlSocketPath)
{
    public bool Success => Config is not null;

    public static ConfigLoadResult Valid(AeternaConfig config) => new(config, [], config.Control.SocketPath);

    public static ConfigLoadResult Invalid(IReadOnlyList<ConfigError> errors, string? controlSocketPath = null) =>
        errors.Count > 0 ? new(null, errors, controlSocketPath) : throw new ArgumentException("An invalid result needs at least one error.", nameof(errors));
}
