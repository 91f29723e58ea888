using System.Globalization;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// Durations as written in aeterna.yaml and on the command line: a number with a unit, or several
/// ("500ms", "30s", "1.5s", "2m", "1h", "1h30m"). Units: ms, s, m, h. A bare number is refused
/// rather than guessed: "30" could mean seconds or milliseconds, and a wrong guess is a silent
/// 1000x error.
/// </summary>
internal static class Duration
{
    private static readonly Dictionary<string, long> Units = new(StringComparer.Ordinal)
    {
        ["ms"] = TimeSpan.TicksPerMillisecond, ["s"] = TimeSpan.TicksPerSecond, ["m"] = TimeSpan.TicksPerMinute, ["h"] = TimeSpan.TicksPerHour,
    };

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says what is wrong and how to write it.</summary>
    public static bool TryParse(string text, out TimeSpan value, out string? error)
    {
        error = Parse(text, out value) is { } problem ? $"{problem.Message} {problem.Fix}" : null;
        return error is null;
    }

    /// <summary>Parses <paramref name="text"/>: null, or what is wrong.</summary>
    public static Problem? Parse(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        string s = text.Trim();
        if (s.Length == 0) return new("the duration is empty.", "Write a number and a unit, e.g. 30s, 500ms, 2m or 1h30m.");
        if (s[0] == '-') return new($"'{s}' is negative.", "Durations can't be negative: write 0s or a positive value such as 30s.");
        var tooLong = new Problem($"'{s}' is too long a duration.", "Use a value of at most a few hours, e.g. 30s or 5m.");
        decimal ticks = 0;
        int i = 0;
        while (i < s.Length)
        {
            int numberStart = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
            string number = s[numberStart..i];
            while (i < s.Length && s[i] == ' ') i++;
            int unitStart = i;
            while (i < s.Length && !char.IsAsciiDigit(s[i]) && s[i] != '.' && s[i] != ' ') i++;
            string unit = s[unitStart..i];
            while (i < s.Length && s[i] == ' ') i++;

            if (number.Length == 0) return new($"'{s}' is not a duration.", "Write a number and a unit, e.g. 30s, 500ms, 2m or 1h30m.");
            if (!decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal amount))
                return number.Count(c => c == '.') <= 1 && number != "." ? tooLong
                    : new($"'{number}' in '{s}' is not a number.", "Write a number and a unit, e.g. 30s, 1.5s or 500ms.");
            if (unit.Length == 0)
                return new(numberStart == 0 && i >= s.Length ? $"'{s}' has no unit." : $"'{number}' in '{s}' has no unit.",
                    $"Add a unit: {number}s for seconds, {number}ms for milliseconds ({number}m, {number}h for minutes, hours).");
            if (!Units.TryGetValue(unit, out long unitTicks))
                return new($"'{unit}' in '{s}' is not a unit.", "Use ms, s, m or h (lower case), e.g. 30s, 500ms, 2m, 1h30m.");
            if (amount > (TimeSpan.MaxValue.Ticks - ticks) / unitTicks) return tooLong;
            ticks += amount * unitTicks;
        }
        value = TimeSpan.FromTicks((long)decimal.Round(ticks));
        return null;
    }
}
