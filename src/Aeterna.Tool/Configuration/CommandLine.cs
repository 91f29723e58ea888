using System.Text;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// Splits a command written as one string ("python app.py --port 8080") into program and
/// arguments the way a POSIX shell would split words: whitespace separates, '…' is literal,
/// "…" allows \" \\ \$ \` escapes, and a backslash outside quotes escapes the next character.
/// Nothing is expanded and no shell runs the result, so unquoted shell operators ($, |, &amp;, ;,
/// &lt;, &gt;, `, parentheses) are refused instead of being passed on as surprising arguments.
/// </summary>
internal static class CommandLine
{
    private const string ShellOperators = "$|&;<>`()";

    public static bool TrySplit(string text, out IReadOnlyList<string> words, out string? message, out string? fix)
    {
        var result = new List<string>();
        words = result;
        message = fix = null;
        var word = new StringBuilder();
        bool inWord = false;
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (c is ' ' or '\t' or '\n' or '\r')
            {
                if (inWord) result.Add(word.ToString());
                word.Clear();
                inWord = false;
                i++;
            }
            else if (c == '\'')
            {
                int end = text.IndexOf('\'', i + 1);
                if (end < 0)
                    return Fail($"the single quote at character {i + 1} of the command is never closed.",
                        "Close the quote, or write the command as a list: [\"program\", \"argument\"].", out message, out fix);
                word.Append(text, i + 1, end - i - 1);
                inWord = true;
                i = end + 1;
            }
            else if (c == '"')
            {
                int j = i + 1;
                while (j < text.Length && text[j] != '"')
                {
                    // Inside double quotes a backslash only escapes these (POSIX); otherwise it is literal.
                    if (text[j] == '\\' && j + 1 < text.Length && text[j + 1] is '"' or '\\' or '$' or '`')
                        j++;
                    else if (text[j] == '\\' && j + 1 < text.Length && text[j + 1] == '\n')
                    {
                        j += 2;
                        continue;
                    }
                    word.Append(text[j]);
                    j++;
                }
                if (j >= text.Length)
                    return Fail($"the double quote at character {i + 1} of the command is never closed.",
                        "Close the quote, or write the command as a list: [\"program\", \"argument\"].", out message, out fix);
                inWord = true;
                i = j + 1;
            }
            else if (c == '\\')
            {
                if (i + 1 >= text.Length)
                    return Fail("the command ends with a lone backslash.",
                        "Remove it, or write \\\\ for a literal backslash.", out message, out fix);
                if (text[i + 1] != '\n') // backslash-newline continues the line
                {
                    word.Append(text[i + 1]);
                    inWord = true;
                }
                i += 2;
            }
            else if (ShellOperators.Contains(c))
            {
                return Fail($"the command contains '{c}' (character {i + 1}), but it is not run by a shell: nothing is expanded, piped or redirected.",
                    $"Quote it ('{c}') to pass it literally, or run a shell explicitly: [\"sh\", \"-c\", \"…\"].", out message, out fix);
            }
            else
            {
                word.Append(c);
                inWord = true;
                i++;
            }
        }
        if (inWord) result.Add(word.ToString());
        return true;
    }

    private static bool Fail(string problem, string howToFix, out string? message, out string? fix)
    {
        message = problem;
        fix = howToFix;
        return false;
    }
}
