using System.Threading.Channels;
using Aeterna.Protocol;
using Aeterna.Tool.Supervision;

namespace Aeterna.Tool.Sessions;

/// <summary>
/// The supervisor's end of one generation's session (docs/protocol.md, "Session"): what the
/// generation said in HELLO, what it reports (READY, STATUS, HEALTH), and its answers in a
/// hand-over (FROZEN, PREPARED, ACCEPTING, FAILED), which the hand-over reads in order, and its
/// CHECKPOINTs.
/// </summary>
internal sealed class GenerationSession : IDisposable
{
    private readonly FrameChannel _channel;
    private readonly Channel<Frame> _replies = Channel.CreateUnbounded<Frame>();

    private readonly Action<GenerationSession, Frame> _onCheckpoint;

    public GenerationSession(FrameChannel channel, HelloMessage hello, WelcomeMessage welcome, Generation generation, Action<GenerationSession, Frame> onCheckpoint)
    {
        _channel = channel;
        Hello = hello;
        Welcome = welcome;
        Generation = generation;
        _onCheckpoint = onCheckpoint;
    }

    public HelloMessage Hello { get; }

    /// <summary>What the supervisor answered the HELLO with.</summary>
    public WelcomeMessage Welcome { get; }

    public Generation Generation { get; }

    /// <summary>Whether the generation registered state to hand over.</summary>
    public bool Stateful => Hello.Stateful;

    /// <summary>Whether it was granted the hand-over of client connections (docs/protocol.md, "Connections").</summary>
    public bool HandsConnections => Capabilities.Has(Welcome.Capabilities, Capabilities.Connections);

    /// <summary>Completes (with the reason) when the generation closes the session or breaks the protocol.</summary>
    public Task<string> Closed => _closed.Task;

    private readonly TaskCompletionSource<string> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task SendAsync<T>(FrameType type, T message, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> json, IReadOnlyList<System.Runtime.InteropServices.SafeHandle>? fds = null, CancellationToken cancel = default) =>
        _channel.SendAsync(type, message, json, fds, cancel);

    /// <summary>Reads the generation's frames until the session ends.</summary>
    public async Task RunAsync()
    {
        try
        {
            while (true)
            {
                var frame = await _channel.ReceiveAsync().ConfigureAwait(false);
                switch (frame.Type)
                {
                    case FrameType.Ready:
                        using (frame) Generation.OnSessionReady();
                        break;
                    case FrameType.Status:
                        using (frame) Generation.OnStatus(frame.Read(ProtocolJson.Default.StatusMessage).Text);
                        break;
                    case FrameType.Health:
                        using (frame) Generation.OnHealth(frame.Read(ProtocolJson.Default.HealthMessage));
                        break;
                    case FrameType.Checkpoint:
                        using (frame) _onCheckpoint(this, frame);
                        break;
                    case FrameType.Frozen or FrameType.Prepared or FrameType.Accepting or FrameType.Failed:
                        _replies.Writer.TryWrite(frame);
                        break;
                    default:
                        frame.Dispose();
                        throw new ProtocolException(ProtocolError.Malformed, $"a generation may not send {frame.Type}");
                }
            }
        }
        catch (ProtocolException e)
        {
            _closed.TrySetResult(e.Error == ProtocolError.Closed ? "the generation closed its session" : $"the generation broke the protocol: {e.Message}");
        }
        catch (Exception e) when (e is ObjectDisposedException or IOException)
        {
            _closed.TrySetResult("the session was closed");
        }
        finally
        {
            _replies.Writer.TryComplete();
        }
    }

    /// <summary>
    /// The generation's next hand-over answer for <paramref name="transfer"/> (answers to older
    /// transfers are dropped). Throws <see cref="SessionLostException"/> when the session ends first.
    /// </summary>
    public async Task<Frame> NextReplyAsync(int transfer, CancellationToken cancel)
    {
        while (true)
        {
            Frame frame;
            try
            {
                frame = await _replies.Reader.ReadAsync(cancel).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                throw new SessionLostException(await Closed.ConfigureAwait(false));
            }
            if (TransferOf(frame) == transfer) return frame;
            frame.Dispose();
        }
    }

    private static int TransferOf(Frame frame) => frame.Type switch
    {
        FrameType.Frozen => frame.Read(ProtocolJson.Default.FrozenMessage).Transfer,
        FrameType.Prepared => frame.Read(ProtocolJson.Default.PreparedMessage).Transfer,
        FrameType.Accepting => frame.Read(ProtocolJson.Default.AcceptingMessage).Transfer,
        _ => frame.Read(ProtocolJson.Default.FailedMessage).Transfer,
    };

    public void Dispose() => _channel.Dispose();
}

/// <summary>The generation's session ended while the supervisor waited for it.</summary>
internal sealed class SessionLostException(string reason) : Exception(reason);
