using System.Globalization;
using System.Text;

namespace Aeterna.Tool.Configuration;

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
            if (shown++ == MaxShown)
                return text.Append('…').ToString();
            if (rune.Value == '\n') text.Append("\\n");
            else if (rune.Value == '\r') text.Append("\\r");
            else if (rune.Value == '\t') text.Append("\\t");
            else if (rune.Value != ' ' && IsInvisible(Rune.GetUnicodeCategory(rune))) text.Append(CultureInfo.InvariantCulture, $"\\u{rune.Value:x4}");
            else text.Append(rune.ToString());
        }
        return text.ToString();
    }

    private static bool IsInvisible(UnicodeCategory category) => category is UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
        or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate or UnicodeCategory.OtherNotAssigned;
}
