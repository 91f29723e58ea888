namespace Aeterna.EventStreams;

/// <summary>How far <see cref="HttpRequestParser.TryParse"/> got.</summary>
internal enum HttpParseStatus
{
    /// <summary>More bytes are needed: the head (<see cref="ParsedRequest.HeadParsed"/> false) or the body.</summary>
    Incomplete,
    /// <summary>A whole request, <see cref="ParsedRequest.Consumed"/> bytes long.</summary>
    Complete,
    /// <summary>A request the runtime answers itself with <see cref="ParsedRequest.Status"/> and closes the connection.</summary>
    Refused,
}
