using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// One problem in a config file: where it is (1-based line and column of the offending key or
/// value), what is wrong and how to fix it. Prints like a compiler diagnostic so that editors
/// and terminals can jump to it.
/// </summary>
internal sealed record ConfigError(string File, int Line, int Column, string Message, string Fix)
{
    public override string ToString() => $"{File}:{Line}:{Column}: error: {Message} Fix: {Fix}";
}

/// <summary>What is wrong with a piece of text and how to fix it, before it has a place in a file.</summary>
internal sealed record Problem(string Message, string Fix);

/// <summary>How values from the file are quoted in messages: short, on one line, invisible characters (controls, BOM, odd spaces) escaped.</summary>
internal static class ConfigText
{
    private const int MaxShown = 60;

    public static string Show(string value)
    {
        var text = new StringBuilder();
        int shown = 0;
        // Runes, so a truncation never splits a surrogate pair (lone surrogates come out as U+FFFD).
        foreach (Rune rune in value.EnumerateRunes())
        {
            if (shown++ == MaxShown) return text.Append('…').ToString();
            text.Append(rune.Value switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                not ' ' when IsInvisible(Rune.GetUnicodeCategory(rune)) => string.Create(CultureInfo.InvariantCulture, $"\\u{rune.Value:x4}"),
                _ => rune.ToString(),
            });
        }
        return text.ToString();
    }

    /// <summary>The file name of <paramref name="path"/> without extension, made of [A-Za-z0-9_.-] only, at most <paramref name="max"/> characters.</summary>
    public static string FileName(string path, int max)
    {
        string name = Regex.Replace(Path.GetFileNameWithoutExtension(path), "[^A-Za-z0-9_.-]", "-");
        return name.Length > max ? name[..max] : name;
    }

    private static bool IsInvisible(UnicodeCategory category) => category is UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
        or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate or UnicodeCategory.OtherNotAssigned;
}
