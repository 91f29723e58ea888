using Aeterna.Relay;

namespace Aeterna.Hosting;

/// <summary>What the runtime's parts share at run time: the supervisor session (null standalone) and its participant.</summary>
internal sealed class AeternaContext(AeternaOptions options)
{
    public SupervisorSession? Session { get; set; }

    public RelayParticipant? Participant { get; set; }

    /// <summary>How long a drain may take: the supervisor's drain_timeout, or the standalone setting.</summary>
    public TimeSpan DrainTimeout => Session is { } s && s.Welcome.DrainTimeoutMs > 0
        ? TimeSpan.FromMilliseconds(s.Welcome.DrainTimeoutMs)
        : options.StandaloneDrainTimeout;
}
