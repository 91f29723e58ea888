using Aeterna.Protocol;

namespace Aeterna.Runtime.Tests.Support;

/// <summary>Two frame channels on the two ends of a real Unix socket pair.</summary>
internal sealed class ChannelPair : IDisposable
{
    public ChannelPair(int maxPayload = FrameChannel.DefaultMaxPayload)
    {
        var (a, b) = FrameChannel.CreatePair();
        Left = FrameChannel.FromHandle(a, maxPayload);
        Right = FrameChannel.FromHandle(b, maxPayload);
    }

    public FrameChannel Left { get; }

    public FrameChannel Right { get; }

    public void Dispose()
    {
        Left.Dispose();
        Right.Dispose();
    }
}
