using System.Globalization;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// Sizes as written in aeterna.yaml: a whole number of bytes, or a number with a unit: B, KiB,
/// MiB, GiB, TiB (powers of 1024) or KB, MB, GB, TB (powers of 1000), e.g. "512MiB", "1.5GiB".
/// </summary>
internal static class ByteSize
{
    private static readonly (string Unit, long Bytes)[] Units =
    [
        ("B", 1), ("KiB", 1L << 10), ("MiB", 1L << 20), ("GiB", 1L << 30), ("TiB", 1L << 40),
        ("KB", 1000), ("MB", 1000_000), ("GB", 1000_000_000), ("TB", 1000_000_000_000),
    ];

    /// <summary>Parses <paramref name="text"/>: null, or what is wrong.</summary>
    public static Problem? Parse(string text, out long bytes)
    {
        bytes = 0;
        string s = text.Trim();
        int split = 0;
        while (split < s.Length && (char.IsAsciiDigit(s[split]) || s[split] == '.')) split++;
        string number = s[..split], unit = s[split..].Trim();
        if (number.Length == 0 || !decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal amount))
            return new($"'{text}' is not a size.", "Write a number of bytes or a number with a unit, e.g. 512MiB, 4GiB or 1048576.");
        var scale = unit.Length == 0 ? ("B", 1) : Units.FirstOrDefault(u => u.Unit == unit);
        if (scale.Unit is null)
        {
            var ignoringCase = Units.FirstOrDefault(u => u.Unit.Equals(unit, StringComparison.OrdinalIgnoreCase));
            return new($"'{unit}' in '{text}' is not a unit.",
                ignoringCase.Unit is not null ? $"Did you mean {number}{ignoringCase.Unit}?" : "Use B, KiB, MiB, GiB or TiB (or KB, MB, GB, TB), e.g. 512MiB.");
        }
        decimal value = decimal.Round(amount * scale.Bytes);
        if (value > long.MaxValue) return new($"'{text}' is too large.", "Use at most a few TiB.");
        bytes = (long)value;
        return null;
    }
}
