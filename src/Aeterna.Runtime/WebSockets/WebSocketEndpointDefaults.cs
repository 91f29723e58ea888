namespace Aeterna.WebSockets;

internal static class WebSocketEndpointDefaults
{
    public const int MaxMessageBytes = 1 << 20;

    /// <summary>How long an ending waits for the client's close frame before closing the socket.</summary>
    public static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(1);
}
