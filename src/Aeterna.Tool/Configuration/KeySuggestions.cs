namespace Aeterna.Tool.Configuration;

/// <summary>The fix for an unknown key: the key it is probably a misspelling or another tool's name of, or where it belongs.</summary>
internal static class KeySuggestions
{
    /// <summary>The fix for the unknown <paramref name="key"/> in <paramref name="section"/>.</summary>
    public static string UnknownKeyFix(string key, ConfigSection section)
    {
        string[] valid = [.. section.Keys.Select(k => k.Name)];
        string? close = section.Keys.FirstOrDefault(k => k.Aliases?.Contains(key, StringComparer.OrdinalIgnoreCase) == true)?.Name ?? Closest(key, valid);
        if (close is not null) return $"Did you mean '{close}'?";
        var elsewhere = ConfigTable.Sections.Where(s => s != section && s.Key(key) is not null).Select(s => s.Path.Length == 0 ? "the top level" : $"'{s.Path}'").ToList();
        if (section != ConfigTable.StateHandoff && ConfigTable.StateHandoff.Key(key) is not null) elsewhere.Add("'handoff'"); // its top-level spelling
        string list = $"Valid keys here: {string.Join(", ", valid)}.";
        return elsewhere.Count > 0 ? $"'{key}' belongs under {string.Join(" or ", elsewhere)}: move it there. {list}" : $"Remove it or fix its spelling. {list}";
    }

    /// <summary>The name in <paramref name="valid"/> within edit distance 2 of <paramref name="text"/> (ignoring case and '-' for '_'), if any.</summary>
    public static string? Closest(string text, IReadOnlyList<string> valid)
    {
        string lower = text.ToLowerInvariant().Replace('-', '_');
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string candidate in valid)
        {
            int distance = EditDistance(lower, candidate);
            if (distance < bestDistance)
                (best, bestDistance) = (candidate, distance);
        }
        return bestDistance <= 2 ? best : null;
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps cost 1.</summary>
    public static int EditDistance(string a, string b)
    {
        if (Math.Abs(a.Length - b.Length) > 2 && (a.Length > 64 || b.Length > 64)) return int.MaxValue; // not close; skip the O(n·m) work
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
