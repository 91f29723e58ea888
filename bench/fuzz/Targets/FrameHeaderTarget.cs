using Aeterna.Protocol;

namespace Aeterna.Fuzz.Targets;

/// <summary>
/// The 16-byte frame header (FrameHeader.Parse) and the payload check (Verify): the input is a
/// header (zero-padded when shorter) followed by payload bytes.
/// </summary>
internal sealed class FrameHeaderTarget : FuzzTarget
{
    private const int MaxPayload = 1 << 20;

    public override string Name => "frame-header";

    public override string Decoder => "FrameHeader.Parse + Verify";

    public override long AllocationConstant => 16 * 1024;

    public override long AllocationPerByte => 0;

    public override void Decode(ReadOnlySpan<byte> input)
    {
        Span<byte> bytes = stackalloc byte[FrameHeader.Size];
        bytes.Clear();
        input[..Math.Min(input.Length, FrameHeader.Size)].CopyTo(bytes);
        var header = FrameHeader.Parse(bytes, MaxPayload);
        if (header.Length is < 0 or > MaxPayload || header.FdCount is < 0 or > FrameHeader.MaxFds || !Enum.IsDefined(header.Type))
            throw new FuzzFinding($"FrameHeader.Parse accepted an impossible header: {header}");
        var payload = input.Length > FrameHeader.Size ? input[FrameHeader.Size..] : default;
        if (payload.Length >= header.Length) header.Verify(payload[..header.Length]);
    }

    public override bool IsRefusal(Exception error) => error is ProtocolException;

    public override IEnumerable<byte[]> Seeds()
    {
        foreach (var type in Enum.GetValues<FrameType>())
        {
            byte[] payload = [.. "{\"transfer\":1}"u8];
            var frame = new byte[FrameHeader.Size + payload.Length];
            FrameHeader.Write(frame, type, type == FrameType.StateRegions ? 2 : 0, payload);
            payload.CopyTo(frame, FrameHeader.Size);
            yield return frame;
        }
    }
}
