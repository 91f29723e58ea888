using System.Text.Json;
using System.Text.RegularExpressions;

namespace Aeterna.Templates.Tests;

/// <summary>One instruction of a Dockerfile: its keyword (upper case) and its arguments, continuation lines joined.</summary>
public sealed record DockerInstruction(string Keyword, string Arguments)
{
    /// <summary>The exec form (<c>["a", "b"]</c>) of the arguments.</summary>
    public string[] ExecForm() => JsonSerializer.Deserialize<string[]>(Arguments)!;

    /// <summary>The words of the arguments with leading <c>--flag=value</c>s split off.</summary>
    public (Dictionary<string, string> Flags, string[] Words) FlagsAndWords()
    {
        var words = Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        int i = 0;
        for (; i < words.Length && words[i].StartsWith("--", StringComparison.Ordinal); i++)
        {
            var parts = words[i][2..].Split('=', 2);
            flags[parts[0]] = parts.Length > 1 ? parts[1] : "";
        }
        return (flags, words[i..]);
    }
}

/// <summary>A stage: <c>FROM image [AS name]</c> and its instructions.</summary>
public sealed record DockerStage(string BaseImage, string? Name, List<DockerInstruction> Instructions)
{
    public IEnumerable<DockerInstruction> All(string keyword) => Instructions.Where(i => i.Keyword == keyword);

    public DockerInstruction? Last(string keyword) => Instructions.LastOrDefault(i => i.Keyword == keyword);
}

/// <summary>A Dockerfile read the way the builder reads it (enough of it for the template's).</summary>
public sealed partial class Dockerfile
{
    public List<DockerInstruction> GlobalArgs { get; } = [];

    public List<DockerStage> Stages { get; } = [];

    public static Dockerfile Parse(string text)
    {
        var file = new Dockerfile();
        var logical = new List<string>();
        string pending = "";
        foreach (var raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (pending.Length == 0 && line.TrimStart().StartsWith('#')) continue;
            if (line.EndsWith('\\'))
            {
                pending += line[..^1] + " ";
                continue;
            }
            string whole = (pending + line).Trim();
            pending = "";
            if (whole.Length > 0) logical.Add(whole);
        }
        foreach (var line in logical)
        {
            var m = InstructionPattern().Match(line);
            var instruction = new DockerInstruction(m.Groups[1].Value.ToUpperInvariant(), Regex.Replace(m.Groups[2].Value, @"\s+", " ").Trim());
            if (instruction.Keyword == "FROM")
            {
                var words = instruction.Arguments.Split(' ');
                file.Stages.Add(new DockerStage(words[0], words.Length >= 3 && words[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? words[2] : null, []));
            }
            else if (file.Stages.Count == 0)
            {
                file.GlobalArgs.Add(instruction);
            }
            else
            {
                file.Stages[^1].Instructions.Add(instruction);
            }
        }
        return file;
    }

    /// <summary>Values of the ARGs declared before the first FROM (their defaults).</summary>
    public Dictionary<string, string> ArgDefaults() => GlobalArgs.Where(a => a.Keyword == "ARG")
        .Select(a => a.Arguments.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");

    [GeneratedRegex(@"^(\w+)\s*(.*)$", RegexOptions.Singleline)]
    private static partial Regex InstructionPattern();
}
