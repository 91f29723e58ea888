using System.Text;

namespace Aeterna;

/// <summary>One whole message from a WebSocket client: text (valid UTF-8, checked) or binary.</summary>
public readonly struct RelayWebSocketMessage
{
    internal RelayWebSocketMessage(bool isText, ReadOnlyMemory<byte> data)
    {
        IsText = isText;
        Data = data;
    }

    /// <summary>Whether the client sent it as text (opcode 1) rather than binary (opcode 2).</summary>
    public bool IsText { get; }

    /// <summary>The payload, unmasked; for a text message its UTF-8 bytes.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>The text of a text message.</summary>
    /// <exception cref="InvalidOperationException">The message is binary.</exception>
    public string Text => IsText ? Encoding.UTF8.GetString(Data.Span) : throw new InvalidOperationException("a binary message has no text: read Data");
}
