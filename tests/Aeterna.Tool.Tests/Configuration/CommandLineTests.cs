using Aeterna.Tool.Configuration;

namespace Aeterna.Tool.Tests.Configuration;

public sealed class CommandLineTests
{
    [Theory]
    [InlineData("python agent.py", new[] { "python", "agent.py" })]
    [InlineData("  python   -u\tagent.py  ", new[] { "python", "-u", "agent.py" })]
    [InlineData("echo 'a  b' \"c d\"", new[] { "echo", "a  b", "c d" })]
    [InlineData("echo 'it''s'", new[] { "echo", "its" })]
    [InlineData("echo \"say \\\"hi\\\"\"", new[] { "echo", "say \"hi\"" })]
    [InlineData("echo \"a\\nb\"", new[] { "echo", "a\\nb" })] // \n is not an escape in double quotes
    [InlineData("echo 'a\\b'", new[] { "echo", "a\\b" })]     // nor anything in single quotes
    [InlineData("echo a\\ b", new[] { "echo", "a b" })]
    [InlineData("echo '$HOME' \"\\$HOME\" \\$HOME", new[] { "echo", "$HOME", "$HOME", "$HOME" })]
    [InlineData("echo '' \"\"", new[] { "echo", "", "" })]
    [InlineData("a=1 b", new[] { "a=1", "b" })]
    public void SplitsLikeAShellWithoutExpanding(string text, string[] expected)
    {
        Assert.Null(CommandLine.Split(text, out var words)?.Message);
        Assert.Equal(expected, words);
    }

    [Theory]
    [InlineData("echo 'open", "single quote", "Close the quote")]
    [InlineData("echo \"open", "double quote", "Close the quote")]
    [InlineData("echo a\\", "lone backslash", "\\\\")]
    [InlineData("run > log", "'>'", "sh")]
    [InlineData("a | b", "'|'", "sh")]
    [InlineData("a && b", "'&'", "sh")]
    [InlineData("echo $HOME", "'$'", "Quote it")]
    [InlineData("a; b", "';'", "sh")]
    public void RefusesUnclosedQuotesAndShellSyntax(string text, string problem, string fix)
    {
        var refused = CommandLine.Split(text, out _);
        Assert.NotNull(refused);
        Assert.Contains(problem, refused.Message);
        Assert.Contains(fix, refused.Fix);
    }
}
