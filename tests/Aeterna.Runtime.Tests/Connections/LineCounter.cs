using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Aeterna.Runtime.Tests.Connections;

/// <summary>
/// A line protocol on a handed-connection endpoint: each line is answered with
/// "<c>{generation} {count} {line}</c>", where count is the number of lines this connection has
/// had answered, kept in the session (8 bytes); a refused or stopped connection gets "BYE {reason}".
/// </summary>
internal sealed class LineCounter(int generation) : RelayConnectionHandler
{
    /// <summary>Refuse every session handed over (as a version that cannot read them would).</summary>
    public bool RefuseSessions { get; init; }

    /// <summary>Whether a connection at a boundary is served only once its client speaks.</summary>
    public bool Lazy { get; init; }

    public override bool WaitsForInput => Lazy;

    /// <summary>How many rounds have started (calls of <see cref="ServeAsync"/>).</summary>
    public int Rounds => Volatile.Read(ref _rounds);

    private int _rounds;

    public override async Task ServeAsync(RelayConnection connection)
    {
        Interlocked.Increment(ref _rounds);
        long count = connection.Session.Length == 8 ? BinaryPrimitives.ReadInt64LittleEndian(connection.Session.Span) : 0;
        while (true)
        {
            var result = await connection.Input.ReadAsync(connection.PauseRequested);
            var buffer = result.Buffer;
            while (buffer.PositionOf((byte)'\n') is { } end)
            {
                string line = Encoding.UTF8.GetString(buffer.Slice(0, end));
                buffer = buffer.Slice(buffer.GetPosition(1, end));
                count++;
                await connection.SendAsync(Encoding.UTF8.GetBytes($"{generation} {count} {line}\n"));
                var session = new byte[8];
                BinaryPrimitives.WriteInt64LittleEndian(session, count);
                connection.Session = session;
            }
            connection.Input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted) return;
        }
    }

    public override bool IsValidSession(ReadOnlySpan<byte> session) => !RefuseSessions && session.Length is 0 or 8;

    public override async Task EndAsync(RelayConnection connection, string reason) =>
        await connection.SendAsync(Encoding.UTF8.GetBytes($"BYE {reason}\n"));
}
