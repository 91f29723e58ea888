using Aeterna.Protocol;

namespace Aeterna.Fuzz.Targets;

/// <summary>
/// Every message's JSON decoder (Frame.Decode with the message's generated metadata): the first
/// input byte picks the message, the rest is its payload.
/// </summary>
internal sealed class MessagesTarget : FuzzTarget
{
    public override string Name => "messages";

    public override string Decoder => "Frame.Decode of all 19 messages";

    // JSON's own buffers and the strings and arrays a payload spells out.
    public override long AllocationPerByte => 256;

    public override void Decode(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty) return;
        var message = MessageDecoders.All[input[0] % MessageDecoders.All.Count];
        message.Decode(input[1..]);
    }

    public override bool IsRefusal(Exception error) => error is ProtocolException { Error: ProtocolError.Malformed };

    public override IEnumerable<byte[]> Seeds() =>
        MessageDecoders.All.Select((message, index) => (byte[])[(byte)index, .. message.Valid]);
}
