using System.Globalization;
using System.Text.RegularExpressions;
using Aeterna.Addresses;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// A type of value in aeterna.yaml: how it is read (reporting what is wrong and the fix; a key's
/// default is read the same way), and how the reference and the JSON Schema describe it.
/// </summary>
/// <param name="Type">The type as the reference names it, e.g. "duration > 0".</param>
/// <param name="Schema">
/// The JSON Schema (draft-07) of a value, as JSON text; a section appears in it as
/// <c>{"$section": "path"}</c>, to be replaced by that section's own schema.
/// </param>
/// <param name="Section">The section a value of this kind opens (itself, or each item of a list); null for plain values.</param>
internal abstract record ValueKind(string Type, string Schema, ConfigSection? Section)
{
    /// <summary>A section: an empty value opens as an empty mapping, so that its required keys are still asked for.</summary>
    public bool IsMapping { get; init; }

    public abstract object? ReadValue(ValueAt at);
}

/// <summary>A <see cref="ValueKind"/> whose values are <typeparamref name="T"/>: <c>read</c> gives anything after an error (<see cref="ValueAt.Failed"/>).</summary>
internal sealed record ValueKind<T>(string Type, string Schema, Func<ValueAt, T> Read, ConfigSection? Section = null)
    : ValueKind(Type, Schema, Section)
{
    public override object? ReadValue(ValueAt at) => Read(at);
}

/// <summary>The kinds of value aeterna.yaml has (docs/configuration.md, "Value rules"), each read with the errors and fixes it can have.</summary>
internal static partial class Kinds
{
    /// <summary>Beyond a day a duration is a typo, and TimeSpan arithmetic stays far from overflow.</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromHours(24);

    /// <summary>Set by the supervisor for every generation; a value from the config would be overridden or would confuse the app.</summary>
    public static readonly string[] ReservedVariables =
        ["LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PID", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "AETERNA_GENERATION", "AETERNA_SUPERVISOR_PID", "AETERNA_SOCKET", "AETERNA_TOKEN"];

    private const string DurationPattern = @"^\\s*((\\d+\\.?\\d*|\\.\\d+)\\s*(ms|s|m|h)\\s*)+$";

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex VariablePattern();

    /// <summary>A kind written as one scalar; anything else is reported as the wrong kind, <paramref name="expected"/> saying what it should be.</summary>
    private static ValueKind<T> Scalar<T>(string type, string expected, string schema, Func<ValueAt, string, T> parse) =>
        new(type, schema, at => at.Node is YamlScalarNode scalar ? parse(at, scalar.Value ?? "") : at.WrongKind<T>(expected));

    public static readonly ValueKind<string> Version = Scalar("string", "a string", """{"enum":["1","1.0",1]}""",
        (at, text) => text is "1" or "1.0" ? text
            : at.Fail<string>($"version '{ConfigText.Show(text)}' is not supported; this Aeterna reads version 1.0.", "Write version: \"1.0\", or leave version out."));

    /// <summary>A name of 1 to <paramref name="max"/> characters from [A-Za-z0-9_.-]; <paramref name="rule"/> says so in a fix.</summary>
    public static ValueKind<string> Name(int max, string rule) => Scalar("string", "a string",
        $$"""{"type":["string","integer"],"pattern":"^[A-Za-z0-9_.-]{1,{{max}}}$"}""",
        (at, text) => text.Length >= 1 && text.Length <= max && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-') ? text
            : at.Fail<string>($"{at.Path} '{ConfigText.Show(text)}' is not a valid name.", $"Use {rule}, e.g. {at.Example}."));

    // A quoted "true" is read like an unquoted one (values are read as text), so the schema takes both.
    public static readonly ValueKind<bool> Bool = Scalar("boolean", "true or false",
        """{"anyOf":[{"type":"boolean"},{"type":"string","pattern":"^([tT][rR][uU][eE]|[fF][aA][lL][sS][eE])$"}]}""",
        (at, text) =>
            text.Equals("true", StringComparison.OrdinalIgnoreCase) ? true
            : text.Equals("false", StringComparison.OrdinalIgnoreCase) ? false
            : at.Fail<bool>($"{at.Path} is '{ConfigText.Show(text)}'; it must be true or false.", $"Write {at.Name}: true or {at.Name}: false."));

    public static ValueKind<int> Int(int min, int max) => Scalar(max == int.MaxValue ? $"integer ≥ {min}" : $"integer {min}–{max}", "a whole number",
        $$"""{"anyOf":[{"type":"integer","minimum":{{min}}{{(max == int.MaxValue ? "" : $",\"maximum\":{max}")}}},{"type":"string","pattern":"^[-+]?[0-9]+$"}]}""",
        (at, text) =>
            !long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value)
                ? at.Fail<int>($"{at.Path} is '{ConfigText.Show(text)}'; it must be a whole number from {min} to {max}.", $"Write it like this: {at.Example}")
            : value < min || value > max ? at.Fail<int>($"{at.Path} is {value}; it must be from {min} to {max}.", $"Use a number from {min} to {max}, e.g. {at.Example}")
            : (int)value);

    /// <summary>A duration (<see cref="Configuration.Duration"/>) up to <see cref="MaxDuration"/>, zero allowed unless <paramref name="positive"/>.</summary>
    public static ValueKind<TimeSpan> Duration(bool positive = false) => Scalar(positive ? "duration > 0" : "duration", "a duration string such as 30s",
        $$"""{"type":"string","pattern":"{{DurationPattern}}"}""",
        (at, text) =>
            Configuration.Duration.Parse(text, out var value) is { } problem ? at.Fail<TimeSpan>(problem)
            : value == TimeSpan.Zero && positive ? at.Fail<TimeSpan>($"{at.Path} is {ConfigText.Show(text)}; it must be more than 0.", $"Use a positive duration, e.g. {at.Example}")
            : value > MaxDuration ? at.Fail<TimeSpan>($"{at.Path} is {ConfigText.Show(text)}; durations longer than 24h are not supported.", $"Use at most 24h, e.g. {at.Example}")
            : value);

    /// <summary>A rate from 0 to 1, written as a fraction (0.05) or a percentage ("5%").</summary>
    public static readonly ValueKind<double> Rate = Scalar("fraction or percentage", "a fraction such as 0.05 or a percentage such as 5%",
        """{"anyOf":[{"type":"number","minimum":0,"maximum":1},{"type":"string","pattern":"^\\s*(\\d+\\.?\\d*|\\.\\d+)%?\\s*$"}]}""",
        (at, text) =>
        {
            string t = text.Trim();
            bool percent = t.EndsWith('%');
            if (double.TryParse(percent ? t[..^1] : t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value)
                && (percent ? value / 100 : value) is >= 0 and <= 1 and var rate)
                return rate;
            return at.Fail<double>($"{at.Path} is '{ConfigText.Show(text)}'; it must be a fraction from 0 to 1 or a percentage from 0% to 100%.", $"Write it like this: {at.Example}");
        });

    /// <summary>A byte size (<see cref="ByteSize"/>) of at least 1 KiB.</summary>
    public static readonly ValueKind<long> Size = Scalar("size ≥ 1KiB", "a size such as 1GiB",
        """{"anyOf":[{"type":"integer","minimum":1024},{"type":"string","pattern":"^\\s*[0-9.]+\\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?\\s*$"}]}""",
        (at, text) =>
            ByteSize.Parse(text, out long value) is { } problem ? at.Fail<long>(problem)
            : value < 1024 ? at.Fail<long>($"{at.Path} is {ConfigText.Show(text)}; it must be at least 1KiB.", $"Use a larger size, e.g. {at.Example}")
            : value);

    /// <summary>One of <paramref name="choices"/>, matched case-insensitively.</summary>
    public static ValueKind<T> Choice<T>(params (string Name, T Value)[] choices) where T : notnull
    {
        string[] names = [.. choices.Select(c => c.Name)];
        // JSON Schema has no case-insensitive enum: the names for completion, a pattern for the rest.
        string pattern = string.Join('|', names.Select(n => string.Concat(n.Select(c => char.IsLetter(c) ? $"[{char.ToLowerInvariant(c)}{char.ToUpperInvariant(c)}]" : Regex.Escape(c.ToString())))));
        return Scalar(string.Join(" \\| ", names.Select(n => $"`{n}`")), $"one of {string.Join(", ", names)}",
            $$"""{"anyOf":[{"enum":[{{string.Join(',', names.Select(n => $"\"{n}\""))}}]},{"type":"string","pattern":"^\\s*({{pattern.Replace("\\", "\\\\")}})\\s*$"}]}""",
            (at, text) =>
            {
                foreach (var (name, value) in choices)
                    if (name.Equals(text.Trim(), StringComparison.OrdinalIgnoreCase)) return value;
                string? close = KeySuggestions.Closest(text.Trim(), names);
                return at.Fail<T>($"{at.Path} is '{ConfigText.Show(text)}'; it must be one of: {string.Join(", ", names)}.",
                    close is not null ? $"Did you mean '{close}'? Write {at.Name}: {close}." : $"Write one of them, e.g. {at.Name}: {names[0]}.");
            });
    }

    /// <summary>A command: a list of words, or one string split like a shell would (<see cref="CommandLine"/>).</summary>
    public static readonly ValueKind<IReadOnlyList<string>> Command = new("command: list or string",
        """{"anyOf":[{"type":"string","pattern":"\\S"},{"type":"array","minItems":1,"items":{"type":["string","number","boolean"]}}]}""",
        at =>
        {
            List<string> words = [];
            switch (at.Node)
            {
                case YamlSequenceNode list:
                    foreach (var item in list.Children)
                    {
                        if (item is not YamlScalarNode scalar || ConfigMapper.IsNull(item))
                        {
                            at.WrongKindAt(item, "a string", $"each word of {at.Path}");
                            return [];
                        }
                        words.Add(scalar.Value ?? "");
                    }
                    break;
                case YamlScalarNode scalar:
                    if (CommandLine.Split(scalar.Value ?? "", out var split) is { } problem) return at.Fail<IReadOnlyList<string>>(problem);
                    words.AddRange(split);
                    break;
                default:
                    return at.WrongKind<IReadOnlyList<string>>("a list of strings or a single string");
            }
            if (words.Count == 0)
                return at.Fail<IReadOnlyList<string>>($"{at.Path} is empty: there is no program to run.", $"Give the program and its arguments, e.g. {at.Example}");
            if (string.IsNullOrWhiteSpace(words[0]))
                return at.Fail<IReadOnlyList<string>>($"the program name (first word) of {at.Path} is empty.", "Put the program first, e.g. [\"python\", \"agent.py\"].");
            if (words.Any(w => w.Contains('\0')))
                return at.Fail<IReadOnlyList<string>>($"{at.Path} contains a NUL character, which no program argument can hold.", "Remove the \\0 escape.");
            return words;
        });

    /// <summary>Environment variables: a list of "KEY=VALUE" strings or a KEY: VALUE mapping; every bad entry is reported.</summary>
    public static readonly ValueKind<IReadOnlyList<KeyValuePair<string, string>>> Environment = new("list of `\"KEY=VALUE\"`, or mapping `KEY: VALUE`",
        """{"anyOf":[{"type":"array","items":{"type":"string","pattern":"^[A-Za-z_][A-Za-z0-9_]*="}},{"type":"object","propertyNames":{"pattern":"^[A-Za-z_][A-Za-z0-9_]*$"},"additionalProperties":{"type":["string","number","boolean"]}}]}""",
        at =>
        {
            var result = new List<KeyValuePair<string, string>>();
            void Add(string key, string value, Mark place)
            {
                if (!VariablePattern().IsMatch(key))
                    at.Report(place, $"'{ConfigText.Show(key)}' in {at.Path} is not a valid variable name.", "Use letters, digits and '_', not starting with a digit, e.g. PYTHONUNBUFFERED=1.");
                else if (ReservedVariables.Contains(key))
                    at.Report(place, $"{at.Path} sets {key}, which the supervisor sets for each generation.",
                        key.StartsWith("WATCHDOG", StringComparison.Ordinal) ? "Remove it and set readiness.watchdog instead." : "Remove it.");
                else if (value.Contains('\0'))
                    at.Report(place, $"the value of {key} in {at.Path} contains a NUL character.", "Remove the \\0 escape.");
                else if (at.Map.Claim($"{at.Path} {key}", place, key) is { } first)
                    at.Report(place, $"{at.Path} sets {key} twice (first on line {first.At.Line}).", "Keep one of them.");
                else
                    result.Add(new(key, value));
            }

            switch (at.Node)
            {
                case YamlSequenceNode list:
                    foreach (var item in list.Children)
                    {
                        if (item is not YamlScalarNode { Value: { } text } || ConfigMapper.IsNull(item))
                        {
                            at.WrongKindAt(item, "a \"KEY=VALUE\" string", $"each item of {at.Path}");
                            continue;
                        }
                        int equals = text.IndexOf('=');
                        string name = VariablePattern().IsMatch(text) ? text : "NAME";
                        if (equals < 0)
                            at.Report(item.Start, $"'{ConfigText.Show(text)}' in {at.Path} has no '='.", $"Write KEY=VALUE, e.g. \"{name}=value\" (\"{name}=\" for an empty value).");
                        else
                            Add(text[..equals], text[(equals + 1)..], item.Start);
                    }
                    break;
                case YamlMappingNode mapping:
                    foreach (var (keyNode, value) in mapping.Children)
                    {
                        string key = ((YamlScalarNode)keyNode).Value ?? "";
                        if (ConfigMapper.IsNull(value))
                            at.Report(keyNode.Start, $"{ConfigText.Show(key)} in {at.Path} has no value.", $"Write {ConfigText.Show(key)}: \"\" for an empty value, or remove it.");
                        else if (value is YamlScalarNode scalar) Add(key, scalar.Value ?? "", keyNode.Start);
                        else at.WrongKindAt(value, "a single value", $"the value of {ConfigText.Show(key)} in {at.Path}");
                    }
                    break;
                default:
                    return at.WrongKind<IReadOnlyList<KeyValuePair<string, string>>>("a list of \"KEY=VALUE\" strings or a KEY: VALUE mapping");
            }
            return result;
        });

    /// <summary>An existing directory, absolute or relative to the config file's directory.</summary>
    public static readonly ValueKind<string> Directory = Scalar("path", "a string (a directory path)", """{"type":"string","minLength":1}""",
        (at, text) =>
        {
            string? full = FullPath(text, at.Map.BaseDirectory);
            if (full is null)
                return at.Fail<string>($"{at.Path} '{ConfigText.Show(text)}' is not a valid path.", "Write a directory path, absolute or relative to the config file.");
            if (!System.IO.Directory.Exists(full))
                return at.Fail<string>($"{at.Path} '{ConfigText.Show(text)}' does not exist (looked for {ConfigText.Show(full)}).",
                    $"Create the directory, or fix the path; relative paths start from the config file's directory ({at.Map.BaseDirectory}).{(text.StartsWith('~') ? " '~' is not expanded: write the full path." : "")}");
            return full;
        });

    /// <summary>A file (not a directory), absolute or relative to the config file's directory.</summary>
    public static readonly ValueKind<string> File = Scalar("path", "a string (a file path)", """{"type":"string","pattern":"[^/]$"}""",
        (at, text) =>
        {
            string? full = FullPath(text, at.Map.BaseDirectory);
            if (full is null)
                return at.Fail<string>($"{at.Path} '{ConfigText.Show(text)}' is not a valid file path.", $"Write a file path, e.g. {at.Example}");
            if (text.EndsWith('/') || System.IO.Directory.Exists(full))
                return at.Fail<string>($"{at.Path} '{ConfigText.Show(text)}' is a directory; it names the file itself.",
                    $"Name a file in it, e.g. {at.Name}: {System.IO.Path.Combine(text, System.IO.Path.GetFileName(at.ExampleValue))}.");
            return full;
        });

    /// <summary>
    /// A Unix socket path, absolute or relative to the config file's directory, within sun_path;
    /// <paramref name="withNotifySockets"/>: its directory also holds the notify sockets, which must fit too.
    /// </summary>
    public static ValueKind<string> Socket(bool withNotifySockets) => Scalar("path", "a string (a socket path)", """{"type":"string","pattern":"[^/]$","maxLength":107}""",
        (at, text) =>
        {
            string? full = text.EndsWith('/') ? null : FullPath(text, at.Map.BaseDirectory);
            if (full is null)
                return at.Fail<string>($"{at.Path} '{ConfigText.Show(text)}' is not a valid socket file path.", $"Write a file path, e.g. {at.Example}");
            if (!UnixSocketPath.Fits(full))
                return at.Fail<string>($"{at.Path} is {UnixSocketPath.ByteLength(full)} bytes long{(full != text ? $" once made absolute ({ConfigText.Show(full)})" : "")}; Unix socket paths can have at most {UnixSocketPath.MaxBytes}.",
                    "Use a shorter path, e.g. under /run or /tmp.");
            if (withNotifySockets && !ControlSocketPath.DirectoryFits(System.IO.Path.GetDirectoryName(full)!))
                return at.Fail<string>($"the directory of {at.Path} is too long: the supervisor also creates {ControlSocketPath.LongestSiblingName}-style notify sockets there, which would exceed {UnixSocketPath.MaxBytes} bytes.",
                    "Use a shorter directory, e.g. /run/aeterna/agent.sock.");
            return full;
        });

    /// <summary>Paths to watch: a list of non-empty paths, made absolute.</summary>
    public static readonly ValueKind<IReadOnlyList<string>> Paths = ListOf(Scalar("path", "a path", """{"type":"string","minLength":1}""",
        (at, text) => text.Length > 0 && FullPath(text, at.Map.BaseDirectory) is { } full ? full : at.WrongKind<string>("a path")), "list of paths", "a list of paths");

    /// <summary>A listener address (<see cref="ListenerAddress"/>), with the text as written.</summary>
    public static readonly ValueKind<(string Text, ListenerAddress Address)> Address = Scalar("address", "a string",
        """{"type":"string","pattern":"^\\s*([tT][cC][pP]|[uU][dD][pP]|[uU][nN][iI][xX])://"}""",
        (at, text) => ListenerAddress.TryParse(text.Trim(), out var address, out string? message, out string? fix)
            ? (text, address) : at.Fail<(string, ListenerAddress)>(new Problem(message!, fix!)));

    /// <summary>The metrics endpoint: ":PORT", "HOST:PORT", "[v6]:PORT" or a bare port; validated, kept as written.</summary>
    public static readonly ValueKind<string> Metrics = Scalar("port or `HOST:PORT`", "a port number or a string such as \":9090\"",
        """{"anyOf":[{"type":"integer","minimum":1,"maximum":65535},{"type":"string","pattern":"^\\s*(\\d+|.*:\\d+)\\s*$"}]}""",
        (at, text) =>
        {
            string t = text.Trim();
            if (t.Length > 0 && t.All(char.IsAsciiDigit)) t = ":" + t;
            return !ListenerAddress.TryParseEndpoint(t, "", allowEmptyHost: true, out _, out int port, out string? message, out string? fix) ? at.Fail<string>(new Problem(message!, fix!))
                : port == 0 ? at.Fail<string>($"{at.Path} has port 0; a metrics endpoint needs a known port.", $"Use a port from 1 to 65535, e.g. {at.Example}.")
                : text;
        });

    /// <summary>A list whose items are <paramref name="item"/>s.</summary>
    public static ValueKind<IReadOnlyList<T>> ListOf<T>(ValueKind<T> item, string type, string expected) => new(type, $$"""{"type":"array","items":{{item.Schema}}}""",
        at =>
        {
            if (at.Node is not YamlSequenceNode list) return at.WrongKind<IReadOnlyList<T>>(expected);
            var items = new List<T>();
            foreach (var itemAt in list.Children.Select(at.Item))
                if (item.Read(itemAt) is var value && !itemAt.Failed) items.Add(value);
            return items;
        }, item.Section);

    /// <summary>A pre-flight check: a command alone (60 s timeout), or a mapping of its run and timeout.</summary>
    public static ValueKind<PreflightCommand> Preflight(ConfigSection<PreflightCommand> section) => new("command or mapping",
        $$"""{"anyOf":[{{Command.Schema}},{{section.Kind.Schema}}]}""",
        at => at.Node is YamlMappingNode ? section.Read(at) : new PreflightCommand(Command.Read(at) ?? [], section.Default<TimeSpan>("timeout", at)), section);

    private static string? FullPath(string text, string baseDirectory)
    {
        try { return text.Contains('\0') ? null : System.IO.Path.GetFullPath(text, baseDirectory); }
        catch (ArgumentException) { return null; }
    }
}
