namespace Aeterna.EventStreams;

internal static class EventStreamDefaults
{
    public const int MaxRequestBodyBytes = 1 << 20;

    public static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(2);

    /// <summary>How long a connection that ends waits for the client to close first, so that closing it does not reset what the client has in flight.</summary>
    public static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(1);
}
