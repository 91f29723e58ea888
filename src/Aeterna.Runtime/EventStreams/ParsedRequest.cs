namespace Aeterna.EventStreams;

/// <summary>What <see cref="HttpRequestParser.TryParse"/> found.</summary>
internal readonly record struct ParsedRequest(
    bool HeadParsed, RelayHttpRequest? Request, long Consumed, bool KeepAlive, bool IsUpgrade, bool ExpectsContinue, int Status = 0, string? Error = null);
