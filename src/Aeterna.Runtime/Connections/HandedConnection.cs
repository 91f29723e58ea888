using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Aeterna.Connections;

/// <summary>
/// One client socket of a handed-connection endpoint and where it stands: served by its handler
/// (a round), paused at a boundary with its read-ahead and session (held, possibly sent to the
/// next generation), or ended. A round reads the socket into a pipe the handler consumes; what
/// the handler left unconsumed when it paused is the read-ahead, given first to the next round,
/// here or in the next generation.
/// </summary>
/// <remarks>
/// The socket (<see cref="ConnectionSocket"/>) is only ever closed with close(2): never shut down,
/// because the next generation may hold the same connection. A pause throws nothing: the handler's
/// pending read returns cancelled, and the socket stops being read when the handler has returned.
/// </remarks>
internal sealed class HandedConnection
{
    private readonly RelayConnectionHandler _handler;
    private readonly ILogger _logger;
    private readonly Action<HandedConnection>? _ended;
    private readonly Lock _lock = new();
    private bool _waiting;
    private Task<bool> _round = Task.FromResult(true);
    private CancellationTokenSource? _pause;
    private HandlerInput? _input;
    private int _closed;

    public HandedConnection(ulong id, string endpoint, ConnectionSocket socket, RelayConnectionHandler handler, ILogger logger, ReadOnlyMemory<byte> readAhead = default, ReadOnlyMemory<byte> framing = default, ReadOnlyMemory<byte> session = default, bool cameFromElsewhere = false, Action<HandedConnection>? ended = null, Protocol.ConnectionKind? kind = null)
    {
        Id = id;
        Endpoint = endpoint;
        Connection = socket;
        _handler = handler;
        _logger = logger;
        _ended = ended;
        ReadAhead = readAhead;
        Framing = framing;
        Session = session;
        Kind = kind ?? handler.Kind;
        CameFromElsewhere = cameFromElsewhere;
    }

    public ulong Id { get; }

    public string Endpoint { get; }

    /// <summary>The connection's fd and its reads and writes.</summary>
    public ConnectionSocket Connection { get; }

    /// <summary>A .NET socket over the connection's fd, made on first use (see <see cref="ConnectionSocket.Socket"/>).</summary>
    public Socket Socket => Connection.Socket;

    public EndPoint? RemoteEndPoint => Connection.RemoteEndPoint;

    /// <summary>Bytes from the client not handled yet: valid while paused.</summary>
    public ReadOnlyMemory<byte> ReadAhead { get; private set; }

    /// <summary>What kind of connection it is (docs/protocol.md, "Kinds"): its endpoint's, or as the handler left it.</summary>
    public Protocol.ConnectionKind Kind { get; private set; }

    /// <summary>The kind's framing state: valid while paused.</summary>
    public ReadOnlyMemory<byte> Framing { get; private set; }

    /// <summary>The endpoint's session: valid while paused.</summary>
    public ReadOnlyMemory<byte> Session { get; private set; }

    public bool CameFromElsewhere { get; }

    /// <summary>Whether this generation sent it to the next one (and so must not write to it until told what became of it).</summary>
    public bool Sent { get; set; }

    public bool IsClosed => Volatile.Read(ref _closed) == 1;

    /// <summary>Whether, at a boundary, it has client bytes to handle: read ahead, or in the socket (as far as the poll has seen).</summary>
    public bool HasInput => !ReadAhead.IsEmpty || Connection.HasInput;

    /// <summary>Completes true when the current round paused at a boundary, false when the connection ended.</summary>
    public Task<bool> Round => _round;

    /// <summary>Starts a round: the handler serves the connection from its read-ahead, then from the socket.</summary>
    public void Serve()
    {
        lock (_lock)
        {
            _waiting = false;
            StartRound();
        }
    }

    /// <summary>
    /// Serves a connection at a boundary again: at once, or, when its handler would only wait for
    /// the client (<see cref="RelayConnectionHandler.WaitsForInput"/>) and nothing is read ahead,
    /// once the client sends something or closes. Until then it stays at its boundary with no
    /// round: at a relay of ten thousand mostly quiet connections, only those that speak start one.
    /// </summary>
    public void Resume()
    {
        if (!ReadAhead.IsEmpty || !_handler.WaitsForInputAt(Kind, Framing.Span))
        {
            Serve();
            return;
        }
        lock (_lock)
        {
            _waiting = true;
            Connection.WatchForInput(this);
        }
    }

    /// <summary>The client spoke while the connection waited: its round starts on the thread pool, not on the poll's thread.</summary>
    public void OnInput() => ThreadPool.UnsafeQueueUserWorkItem(static connection => connection.StartOnInput(), this, preferLocal: false);

    private void StartOnInput()
    {
        lock (_lock)
        {
            // Paused (or served) meanwhile: the pause found it at its boundary, and nothing was read.
            if (!_waiting || IsClosed) return;
            _waiting = false;
            StartRound();
        }
    }

    private void StartRound()
    {
        // The fill waits once the pipe's threshold is unconsumed; the read-ahead alone never
        // reaches it, so writing it below completes at once.
        var pipe = new Pipe(_handler.InputOptions(ReadAhead.Length));
        if (!ReadAhead.IsEmpty)
        {
            pipe.Writer.Write(ReadAhead.Span);
            _ = pipe.Writer.FlushAsync(); // under the pause threshold (above): completes at once
        }
        ReadAhead = default;
        var pause = new CancellationTokenSource();
        _pause = pause;
        var input = new HandlerInput(pipe.Reader, pause.Token);
        _input = input;
        var connection = new RelayConnection(this, input, pause.Token);
        _round = RunAsync(pipe, connection, pause);
    }

    /// <summary>Asks the handler to stop at a boundary; completes as <see cref="Round"/> does.</summary>
    public Task<bool> PauseAsync()
    {
        CancellationTokenSource? pause;
        HandlerInput? input;
        Task<bool> round;
        lock (_lock)
        {
            round = _round;
            if (_waiting)
            {
                // No round: it is at its boundary already, with what it had.
                _waiting = false;
                Connection.StopWatching();
                return round;
            }
            (pause, input) = (_pause, _input);
        }
        // Outside the lock: a handler's code may run on in the cancellation's callbacks.
        if (pause is { IsCancellationRequested: false })
        {
            pause.Cancel();
            input?.Pause();
        }
        return round;
    }

    private async Task<bool> RunAsync(Pipe pipe, RelayConnection connection, CancellationTokenSource pause)
    {
        // Bytes arrive from the poll's thread from here on; the handler runs on the thread pool
        // (a yield rather than Task.Run: one allocation less per connection, and at a relay ten
        // thousand of them start at once).
        Connection.StartReading(pipe.Writer);
        bool failed = false;
        try
        {
            await ThreadPoolYield.Instance;
            await _handler.ServeAsync(connection).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (pause.IsCancellationRequested) { }
        catch (Exception e)
        {
            failed = true;
            _logger.LogWarning(e, "aeterna: the handler of endpoint '{Endpoint}' failed on connection {Id}; the connection is closed", Endpoint, Id);
        }
        bool paused = pause.IsCancellationRequested && !failed && !connection.Ended;
        pause.Cancel();
        Connection.StopReading();
        connection.Detach();
        if (!paused)
        {
            Close();
            _ended?.Invoke(this);
            return false;
        }
        // Everything the handler did not consume (examined or not) goes first into the next round.
        // Completing the writer first makes TryRead return it even when all of it was examined.
        pipe.Writer.Complete();
        try
        {
            if (pipe.Reader.TryRead(out var left))
            {
                ReadAhead = left.Buffer.ToArray();
                pipe.Reader.AdvanceTo(left.Buffer.End);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or SocketException)
        {
            // A handler that left a read pending, or a connection reset by the client: nothing to hand over.
            _logger.LogWarning("aeterna: connection {Id} of endpoint '{Endpoint}' cannot pause: {Error}; it is closed", Id, Endpoint, e.Message);
            Close();
            _ended?.Invoke(this);
            return false;
        }
        Session = connection.Session.ToArray();
        Framing = connection.Framing.ToArray();
        Kind = connection.Kind;
        return true;
    }

    /// <summary>
    /// A round without a fill loop or a handler loop, for <see cref="RelayConnectionHandler.EndAsync"/>:
    /// the handler may send its goodbye; then the socket is closed.
    /// </summary>
    public async Task EndAsync(string reason)
    {
        if (IsClosed) return;
        var pipe = new Pipe(new PipeOptions(useSynchronizationContext: false));
        if (!ReadAhead.IsEmpty) pipe.Writer.Write(ReadAhead.Span);
        await pipe.Writer.CompleteAsync().ConfigureAwait(false);
        using var ended = new CancellationTokenSource();
        ended.Cancel();
        var connection = new RelayConnection(this, new HandlerInput(pipe.Reader, ended.Token), ended.Token);
        try
        {
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _handler.EndAsync(connection, reason).WaitAsync(grace.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _logger.LogWarning("aeterna: ending connection {Id} of endpoint '{Endpoint}' ({Reason}) failed: {Error}", Id, Endpoint, reason, e.Message);
        }
        connection.Detach();
        Close();
    }

    /// <summary>close(2) of this process's copy; the connection lives on wherever else it is held.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 1) return;
        Connection.Close();
    }
}
