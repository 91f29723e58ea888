using System.Globalization;
using System.Net.Sockets;
using System.Reflection;
using Aeterna.Protocol;

namespace Aeterna.Relay;

/// <summary>
/// This generation's session with the supervisor on AETERNA_SOCKET (docs/protocol.md,
/// "Session"): HELLO/WELCOME, then READY, STATUS and HEALTH from here, and the hand-over's
/// FREEZE, IMPORT, COMMIT, ABORT and RESUME from there.
/// </summary>
internal sealed class SupervisorSession : IDisposable
{
    /// <summary>The protocol versions this runtime speaks.</summary>
    public static readonly int[] Versions = [1, 1];

    private readonly FrameChannel _channel;

    private SupervisorSession(FrameChannel channel, WelcomeMessage welcome)
    {
        _channel = channel;
        Welcome = welcome;
        channel.MaxPayload = welcome.MaxFrameSize;
    }

    public WelcomeMessage Welcome { get; }

    /// <summary>A session over a socket whose other end plays the supervisor in this process (<see cref="RelayRehearsal"/>).</summary>
    public static SupervisorSession Loopback(FrameChannel channel, WelcomeMessage welcome) => new(channel, welcome);

    /// <summary>Whether this process runs under an Aeterna supervisor that speaks the protocol.</summary>
    public static bool IsSupervised => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AETERNA_SOCKET"));

    /// <summary>Opens the session; null when there is no supervisor (the app runs standalone).</summary>
    public static async Task<SupervisorSession?> ConnectAsync(bool stateful, IReadOnlyList<string> stateTypes, string? schema, CancellationToken cancel)
    {
        string? path = Environment.GetEnvironmentVariable("AETERNA_SOCKET");
        if (string.IsNullOrEmpty(path)) return null;
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancel).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new InvalidOperationException($"AETERNA_SOCKET is {path}, but the supervisor does not answer there ({e.Message}). Fix: start the app with `dotnet aeterna start`, or unset AETERNA_SOCKET to run it standalone.", e);
        }
        var channel = new FrameChannel(socket);
        try
        {
            await channel.SendAsync(FrameType.Hello, new HelloMessage
            {
                Versions = Versions,
                Token = Environment.GetEnvironmentVariable("AETERNA_TOKEN") ?? "",
                Pid = Environment.ProcessId,
                Runtime = "aeterna-dotnet/" + RuntimeVersion,
                Stateful = stateful,
                StateTypes = [.. stateTypes],
                Schema = schema,
                Capabilities = Capabilities.All,
            }, ProtocolJson.Default.HelloMessage, cancel: cancel).ConfigureAwait(false);
            using var answer = await channel.ReceiveAsync(cancel).ConfigureAwait(false);
            if (answer.Type == FrameType.Reject)
            {
                var reject = answer.Read(ProtocolJson.Default.RejectMessage);
                throw new InvalidOperationException($"the supervisor refused this process ({reject.Code}): {reject.Message}");
            }
            if (answer.Type != FrameType.Welcome)
                throw new ProtocolException(ProtocolError.Malformed, $"expected WELCOME from the supervisor, got {answer.Type}");
            return new SupervisorSession(channel, answer.Read(ProtocolJson.Default.WelcomeMessage));
        }
        catch
        {
            channel.Dispose();
            throw;
        }
    }

    /// <summary>The generation number (AETERNA_GENERATION), or 0 standalone.</summary>
    public static int CurrentGeneration =>
        int.TryParse(Environment.GetEnvironmentVariable("AETERNA_GENERATION"), NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : 0;

    public Task SendAsync<T>(FrameType type, T message, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> json, CancellationToken cancel = default) =>
        _channel.SendAsync(type, message, json, cancel: cancel);

    /// <summary>Sends a frame with file descriptors attached.</summary>
    public Task SendAsync<T>(FrameType type, T message, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> json, IReadOnlyList<System.Runtime.InteropServices.SafeHandle> fds, CancellationToken cancel = default) =>
        _channel.SendAsync(type, message, json, fds, cancel);

    /// <summary>The next frame from the supervisor; <see cref="ProtocolException"/> (Closed) when it went away.</summary>
    public Task<Frame> ReceiveAsync(CancellationToken cancel) => _channel.ReceiveAsync(cancel);

    private static string RuntimeVersion =>
        typeof(SupervisorSession).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0";

    public void Dispose() => _channel.Dispose();
}
