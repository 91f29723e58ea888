using System.IO.Pipelines;
using System.Net;
using Aeterna.Connections;

namespace Aeterna;

/// <summary>
/// One client connection of a handed-connection endpoint, as a <see cref="RelayConnectionHandler"/>
/// serves it: from the moment it is accepted, adopted from the previous generation or resumed,
/// until it pauses for a hand-over or ends.
/// </summary>
public sealed class RelayConnection
{
    private readonly HandedConnection _owner;
    private int _detached;

    internal RelayConnection(HandedConnection owner, PipeReader input, CancellationToken pauseRequested)
    {
        _owner = owner;
        Input = input;
        PauseRequested = pauseRequested;
        Session = owner.Session;
        Framing = owner.Framing;
        Kind = owner.Kind;
    }

    /// <summary>The endpoint's name, as registered.</summary>
    public string Endpoint => _owner.Endpoint;

    /// <summary>The client's address, when the socket has one.</summary>
    public EndPoint? RemoteEndPoint => _owner.RemoteEndPoint;

    /// <summary>
    /// What the client sent: first the bytes an earlier round of this connection read and did not
    /// handle (in this generation or the previous one), then the socket. Consume only what you
    /// handled (<see cref="PipeReader.AdvanceTo(SequencePosition, SequencePosition)"/>): the rest is
    /// handed over. Never read the socket any other way.
    /// </summary>
    public PipeReader Input { get; }

    /// <summary>
    /// Fires when the runtime needs this connection at a boundary: for a hand-over to the next
    /// generation, or because this generation stops. Give it to <c>Input.ReadAsync</c>, never to a send.
    /// </summary>
    public CancellationToken PauseRequested { get; }

    /// <summary>
    /// The connection's own state, handed over with it and given back to the handler that serves
    /// it next (empty for a connection just accepted). Keep it current after each message handled:
    /// it is read when the connection pauses.
    /// </summary>
    public ReadOnlyMemory<byte> Session { get; set; }

    /// <summary>Whether the connection came from another generation (rather than accepted or resumed here).</summary>
    public bool IsHandedOver => _owner.CameFromElsewhere;

    /// <summary>
    /// Sends all of <paramref name="data"/> to the client. A reply is complete when this returns;
    /// don't cancel a send halfway (the token is for giving up on a client that does not read).
    /// </summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancel = default)
    {
        if (Volatile.Read(ref _detached) == 1)
            return ValueTask.FromException(new InvalidOperationException($"connection {_owner.Id} of endpoint '{Endpoint}' has paused or ended: it can no longer be written from this handler"));
        return _owner.Connection.SendAsync(data, cancel);
    }

    /// <summary>The kind's protocol state (docs/protocol.md, "Kinds"), kept like <see cref="Session"/>; empty for raw.</summary>
    internal ReadOnlyMemory<byte> Framing { get; set; }

    /// <summary>The kind this connection is now (an endpoint that serves more than one kind sets it), kept like <see cref="Framing"/>.</summary>
    internal Protocol.ConnectionKind Kind { get; set; }

    /// <summary>Set by a handler that ends the connection after the pause was asked (returning would otherwise mean paused).</summary>
    internal bool Ended { get; private set; }

    internal void End() => Ended = true;

    /// <summary>The socket, for an ending that waits for the client's last word.</summary>
    internal System.Net.Sockets.Socket Socket => _owner.Socket;

    /// <summary>After the round: the handler no longer owns the socket.</summary>
    internal void Detach() => Volatile.Write(ref _detached, 1);
}
