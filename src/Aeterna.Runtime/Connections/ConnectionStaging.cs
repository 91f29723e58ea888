using Aeterna.Protocol;

namespace Aeterna.Connections;

/// <summary>
/// The connections of one IMPORT, staged as their CONNECTIONS frames arrive rather than after the
/// last: judged, given their objects and registered with the poll while the exporter is still
/// sending the rest, so that COMMIT has little left to do. Staged connections are neither read nor
/// written; the poll only notes which of them the client has sent to meanwhile.
/// </summary>
/// <remarks>
/// Owned by the import that began it: <see cref="Finish"/> gives the staged connections to their
/// generation (PREPARED's lists), <see cref="Discard"/> closes them when the import fails (the
/// exporter still holds every one).
/// </remarks>
internal sealed class ConnectionStaging
{
    private readonly HandedConnections _owner;
    private readonly List<ulong> _adopted = [];
    private readonly List<RefusedConnection> _refused = [];
    private readonly List<HandedConnection> _staged = [];
    private long _ticks;
    private bool _ended;

    public ConnectionStaging(HandedConnections owner) => _owner = owner;

    /// <summary>One frame's connections: each adopted (staged) or refused (its fd closed at once).</summary>
    public void Add(IReadOnlyList<ReceivedConnection> received)
    {
        ObjectDisposedException.ThrowIf(_ended, this);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        foreach (var (record, fd) in received)
        {
            var connection = _owner.Adopt(record, fd, out var refusal);
            if (connection is null)
            {
                _refused.Add(refusal!);
                continue;
            }
            connection.Connection.Register();
            _staged.Add(connection);
            _adopted.Add(record.Id);
        }
        _ticks += System.Diagnostics.Stopwatch.GetTimestamp() - started;
    }

    /// <summary>What is staged so far.</summary>
    public IReadOnlyList<HandedConnection> Staged => _staged;

    /// <summary>The time spent staging, all frames together.</summary>
    public double Milliseconds => System.Diagnostics.Stopwatch.GetElapsedTime(0, _ticks).TotalMilliseconds;

    /// <summary>The import succeeded: the staged connections wait for COMMIT (or ABORT) in their generation.</summary>
    public PreparedConnections Finish()
    {
        ObjectDisposedException.ThrowIf(_ended, this);
        _ended = true;
        _owner.AddStaged(_staged);
        return new PreparedConnections([.. _adopted], [.. _refused]);
    }

    /// <summary>The import failed: close our copies of what was staged.</summary>
    public void Discard()
    {
        if (_ended) return;
        _ended = true;
        foreach (var connection in _staged) connection.Close();
    }
}
