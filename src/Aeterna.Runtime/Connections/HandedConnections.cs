using System.Net.Sockets;
using Aeterna.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Aeterna.Connections;

/// <summary>
/// The connections of this generation's handed-connection endpoints, through a relay
/// (docs/protocol.md, "Connections"): served; paused at a boundary on FREEZE and held, sent or
/// not, until RELEASE (close the adopted, end the refused) or RESUME (serve again); adopted at
/// IMPORT and staged, untouched, until COMMIT serves them (or ABORT closes them).
/// </summary>
internal sealed class HandedConnections(IReadOnlyDictionary<string, RelayConnectionHandler> handlers, ILogger logger)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, HandedConnection> _all = [];
    private readonly List<HandedConnection> _staged = [];
    private ulong _nextId;
    private bool _frozen;
    private bool _stopping;

    /// <summary>No endpoint: nothing to hand over (an importer still answers for what it is sent).</summary>
    public static HandedConnections None { get; } = new(new Dictionary<string, RelayConnectionHandler>(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

    public bool HasEndpoints => handlers.Count > 0;

    /// <summary>How many connections this generation holds (served, paused or staged).</summary>
    public int Count
    {
        get { lock (_lock) return _all.Count + _staged.Count; }
    }

    /// <summary>
    /// A connection just accepted on <paramref name="endpoint"/>'s listener: served at once, or,
    /// when it slipped in as the generation froze, held unserved with the others.
    /// </summary>
    public void Accepted(string endpoint, Socket socket)
    {
        HandedConnection connection;
        bool serve;
        lock (_lock)
        {
            if (_stopping)
            {
                socket.Dispose();
                return;
            }
            connection = new HandedConnection(++_nextId, endpoint, ConnectionSocket.Accepted(socket), handlers[endpoint], logger, ended: Forget);
            _all.Add(connection.Id, connection);
            serve = !_frozen;
        }
        if (serve) connection.Serve();
    }

    /// <summary>A connection whose round ended it (rather than paused): no longer ours.</summary>
    private void Forget(HandedConnection connection)
    {
        lock (_lock)
            if (_all.TryGetValue(connection.Id, out var known) && known == connection) _all.Remove(connection.Id);
    }

    /// <summary>
    /// FREEZE: every served connection to a boundary. Throws <see cref="TimeoutException"/> when
    /// one does not get there before <paramref name="cancel"/>; it pauses later and is held like the others.
    /// </summary>
    public async Task<IReadOnlyList<HandedConnection>> PauseAllAsync(CancellationToken cancel)
    {
        HandedConnection[] all;
        lock (_lock)
        {
            _frozen = true;
            all = [.. _all.Values];
        }
        var pauses = all.Select(c => c.PauseAsync()).ToArray();
        try
        {
            await Task.WhenAll(pauses).WaitAsync(cancel).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            int late = pauses.Count(p => !p.IsCompleted);
            throw new TimeoutException($"{late} handed connection(s) did not reach a boundary within the freeze's deadline (their handlers were still in a message)");
        }
        // Every connection held now, including any accepted while the freeze began (never served).
        lock (_lock)
            return [.. _all.Values.Where(c => c.Round.IsCompletedSuccessfully && c.Round.Result && !c.IsClosed).OrderBy(c => c.Id)];
    }

    /// <summary>Their CONNECTIONS records, ids as this transfer's.</summary>
    public static ConnectionRecord[] Records(IReadOnlyList<HandedConnection> paused) =>
        [.. paused.Select(c => new ConnectionRecord(c.Id, (byte)c.Kind, c.Endpoint, c.ReadAhead, c.Framing, c.Session))];

    /// <summary>IMPORT: staging for the connections it receives, frame by frame (<see cref="ConnectionStaging"/>).</summary>
    public ConnectionStaging BeginStaging() => new(this);

    /// <summary>
    /// Decides on <paramref name="received"/> at once, touching nothing live (the staging of a
    /// whole import in one call). Adopted ones are staged (not read nor written before COMMIT);
    /// the fds of refused ones are closed.
    /// </summary>
    public PreparedConnections Stage(IReadOnlyList<ReceivedConnection> received)
    {
        var staging = BeginStaging();
        staging.Add(received);
        return staging.Finish();
    }

    /// <summary>A connection received: its object, or null with why it is refused (its fd closed).</summary>
    internal HandedConnection? Adopt(ConnectionRecord record, SafeFileHandle? fd, out RefusedConnection? refusal)
    {
        refusal = Judge(record, fd);
        if (refusal is not null)
        {
            fd?.Dispose();
            return null;
        }
        ulong id;
        lock (_lock) id = ++_nextId;
        // No .NET Socket for it (several syscalls each): the fd is read and written through ConnectionPoll.
        return new HandedConnection(id, record.Endpoint, new ConnectionSocket(fd!), handlers[record.Endpoint], logger, record.ReadAhead.ToArray(), record.Framing.ToArray(), record.Session.ToArray(), cameFromElsewhere: true, ended: Forget, kind: (ConnectionKind)record.Kind);
    }

    /// <summary>An import's staged connections, held until COMMIT serves them or ABORT closes them.</summary>
    internal void AddStaged(IReadOnlyList<HandedConnection> staged)
    {
        lock (_lock) _staged.AddRange(staged);
    }

    private RefusedConnection? Judge(ConnectionRecord record, SafeFileHandle? fd)
    {
        if (fd is null)
            return new RefusedConnection(record.Id, "fd_limit", "its socket did not arrive: this process is at its file descriptor limit (RLIMIT_NOFILE)");
        if (!Enum.IsDefined((ConnectionKind)record.Kind))
            return new RefusedConnection(record.Id, "unknown_kind", $"kind {record.Kind} is not one this runtime knows");
        if (!handlers.TryGetValue(record.Endpoint, out var handler))
            return new RefusedConnection(record.Id, "unknown_endpoint", $"this version has no handed-connection endpoint '{record.Endpoint}'");
        var kind = (ConnectionKind)record.Kind;
        if (!handler.Takes(kind))
            return new RefusedConnection(record.Id, "kind_mismatch", $"endpoint '{record.Endpoint}' takes {handler.Kind} connections, not {kind}");
        string? framing;
        try { framing = handler.FramingError(kind, record.Framing.Span); }
        catch (Exception e) when (e is not OutOfMemoryException) { framing = e.Message; }
        if (framing is not null)
            return new RefusedConnection(record.Id, "framing", $"endpoint '{record.Endpoint}' cannot take the connection's framing state: {framing}");
        bool valid;
        try { valid = handler.IsValidSession(kind, record.Session.Span); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new RefusedConnection(record.Id, "session", $"endpoint '{record.Endpoint}' could not read the session: {e.Message}");
        }
        return valid ? null : new RefusedConnection(record.Id, "session", $"endpoint '{record.Endpoint}' refused the session ({record.Session.Length} bytes)");
    }

    /// <summary>COMMIT or RESUME: serve what is staged and every connection held here; returns how many.</summary>
    public int ServeAll()
    {
        List<HandedConnection> held;
        lock (_lock)
        {
            _frozen = false;
            foreach (var connection in _staged) _all.Add(connection.Id, connection);
            _staged.Clear();
            held = [.. _all.Values];
        }
        // Nearly all are at a boundary already: served in this pass, without a task of their own
        // to wait on a round that has ended. Those whose client spoke while nobody served them go
        // first: the others may be quiet a while yet.
        var quiet = new List<HandedConnection>(held.Count);
        foreach (var connection in held)
        {
            if (!connection.Round.IsCompleted) _ = ServeWhenPausedAsync(connection);
            else if (connection.HasInput) ServeAgain(connection);
            else quiet.Add(connection);
        }
        foreach (var connection in quiet) ServeAgain(connection);
        return held.Count;
    }

    private void ServeAgain(HandedConnection connection)
    {
        if (connection.IsClosed) return;
        connection.Sent = false;
        connection.Resume();
    }

    /// <summary>A connection still on its way to a boundary (the freeze timed out) is served again once it gets there.</summary>
    private async Task ServeWhenPausedAsync(HandedConnection connection)
    {
        if (!connection.Round.IsCompleted) await connection.PauseAsync().ConfigureAwait(false);
        ServeAgain(connection);
    }

    /// <summary>ABORT to an importer: what it staged is not its own.</summary>
    public void DiscardStaged()
    {
        List<HandedConnection> staged;
        lock (_lock)
        {
            staged = [.. _staged];
            _staged.Clear();
        }
        foreach (var connection in staged) connection.Close();
    }

    /// <summary>
    /// RELEASE: the adopted ones are the next generation's; close(2) our copies. The refused ones,
    /// and any sent but in neither list, are ended here by their endpoint.
    /// </summary>
    public Task ReleaseAsync(ReleaseMessage release)
    {
        var adopted = new HashSet<ulong>(release.Adopted ?? []);
        var reasons = (release.Refused ?? []).GroupBy(r => r.Id).ToDictionary(g => g.Key, g => g.First().Reason);
        var endings = new List<Task>();
        lock (_lock)
        {
            foreach (var connection in _all.Values.Where(c => c.Sent).ToList())
            {
                _all.Remove(connection.Id);
                if (adopted.Contains(connection.Id)) connection.Close();
                else endings.Add(connection.EndAsync(reasons.GetValueOrDefault(connection.Id, "refused")));
            }
        }
        return Task.WhenAll(endings);
    }

    /// <summary>
    /// The generation stops: served connections are paused and ended by their endpoint, held ones
    /// not sent are ended; a sent one whose fate was never told is only closed (the next
    /// generation may serve it), staged ones likewise.
    /// </summary>
    public async Task StopAsync(TimeSpan grace)
    {
        HandedConnection[] all, staged;
        lock (_lock)
        {
            _stopping = true;
            all = [.. _all.Values];
            staged = [.. _staged];
            _all.Clear();
            _staged.Clear();
        }
        foreach (var connection in staged) connection.Close();
        await Task.WhenAll(all.Select(async connection =>
        {
            if (connection.Sent)
            {
                connection.Close();
                return;
            }
            var paused = connection.PauseAsync();
            if (await Task.WhenAny(paused, Task.Delay(grace)).ConfigureAwait(false) != paused || !paused.Result)
            {
                connection.Close();
                return;
            }
            await connection.EndAsync("stopping").ConfigureAwait(false);
        })).ConfigureAwait(false);
    }
}

/// <summary>A connection record as received, with its socket (null when the fd limit dropped it).</summary>
internal readonly record struct ReceivedConnection(ConnectionRecord Record, SafeFileHandle? Fd);
