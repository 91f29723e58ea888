using Aeterna.Tool.Configuration;

namespace Aeterna.Tool.Tests.Configuration;

public sealed class DurationTests
{
    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("30s", 30_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("2m", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("1m30.5s", 90_500)]
    [InlineData(" 30 s ", 30_000)]
    [InlineData("0s", 0)]
    [InlineData(".5s", 500)]
    public void ParsesNumbersWithUnits(string text, double milliseconds)
    {
        Assert.True(Duration.TryParse(text, out var value, out string? error), error);
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData("30", "no unit", "30s")]
    [InlineData("0", "no unit", "0s")]
    [InlineData("-1s", "negative", "0s")]
    [InlineData("", "empty", "30s")]
    [InlineData("fast", "not a duration", "30s")]
    [InlineData("30S", "not a unit", "lower case")]
    [InlineData("3d", "not a unit", "ms, s, m or h")]
    [InlineData("1.2.3s", "not a number", "1.5s")]
    [InlineData("1h30", "has no unit", "30s")]
    [InlineData("999999999999999999999999999999h", "too long", "30s")]
    public void RefusesAnythingElseWithAFix(string text, string problem, string fix)
    {
        var refused = Duration.Parse(text, out _);
        Assert.NotNull(refused);
        Assert.Contains(problem, refused.Message);
        Assert.Contains(fix, refused.Fix);
        Assert.False(Duration.TryParse(text, out _, out string? combined));
        Assert.Equal($"{refused.Message} {refused.Fix}", combined);
    }
}
