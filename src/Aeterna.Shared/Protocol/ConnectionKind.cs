namespace Aeterna.Protocol;

/// <summary>What protocol a handed connection speaks (docs/protocol.md, "Kinds"): how its <c>framing</c> bytes are laid out.</summary>
internal enum ConnectionKind : byte
{
    /// <summary>Any protocol over TCP; no framing state, the endpoint knows its boundaries.</summary>
    Raw = 1,
    /// <summary>An RFC 6455 connection after its handshake, handed over between messages.</summary>
    WebSocket = 2,
    /// <summary>An HTTP/1.1 chunked response in progress, handed over between chunks.</summary>
    HttpStream = 3,
}
