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

    /// <summary>Splits <paramref name="text"/>: null, or what is wrong.</summary>
    public static Problem? Split(string text, out IReadOnlyList<string> words)
    {
        var result = new List<string>();
        words = result;
        var word = new StringBuilder();
        bool inWord = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c is ' ' or '\t' or '\n' or '\r')
            {
                if (inWord) result.Add(word.ToString());
                word.Clear();
                inWord = false;
                continue;
            }
            bool wasInWord = inWord;
            inWord = true;
            if (c == '\'')
            {
                int end = text.IndexOf('\'', i + 1);
                if (end < 0) return Unclosed("single", i);
                word.Append(text, i + 1, end - i - 1);
                i = end;
            }
            else if (c == '"')
            {
                int start = i;
                for (i++; i < text.Length && text[i] != '"'; i++)
                {
                    // Inside double quotes a backslash only escapes these (POSIX), and continues the line before a newline; otherwise it is literal.
                    if (text[i] == '\\' && i + 1 < text.Length && text[i + 1] == '\n') i++;
                    else word.Append(text[i] == '\\' && i + 1 < text.Length && text[i + 1] is '"' or '\\' or '$' or '`' ? text[++i] : text[i]);
                }
                if (i >= text.Length) return Unclosed("double", start);
            }
            else if (c == '\\')
            {
                if (i + 1 >= text.Length) return new("the command ends with a lone backslash.", "Remove it, or write \\\\ for a literal backslash.");
                if (text[++i] != '\n') word.Append(text[i]); // backslash-newline continues the line
                else inWord = wasInWord;
            }
            else if (ShellOperators.Contains(c))
                return new($"the command contains '{c}' (character {i + 1}), but it is not run by a shell: nothing is expanded, piped or redirected.",
                    $"Quote it ('{c}') to pass it literally, or run a shell explicitly: [\"sh\", \"-c\", \"…\"].");
            else word.Append(c);
        }
        if (inWord) result.Add(word.ToString());
        return null;
    }

    private static Problem Unclosed(string quote, int at) => new($"the {quote} quote at character {at + 1} of the command is never closed.",
        "Close the quote, or write the command as a list: [\"program\", \"argument\"].");
}
