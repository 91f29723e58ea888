namespace AeternaAgent;

/// <summary>What one request and the whole memory may hold. Over a limit: 400 for the request, 409 for the memory.</summary>
public static class Limits
{
    /// <summary>Largest request body read.</summary>
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>Longest message text, in UTF-16 characters.</summary>
    public const int MaxTextLength = 4000;

    /// <summary>Longest session id; ids are letters, digits, '-', '_' and '.'.</summary>
    public const int MaxSessionIdLength = 128;

    public const int MaxSessions = 100_000;

    public const int MaxMessagesPerSession = 10_000;

    public static bool IsValidSessionId(string id) =>
        id.Length is > 0 and <= MaxSessionIdLength && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
}
