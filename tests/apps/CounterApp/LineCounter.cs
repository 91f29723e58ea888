using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Aeterna;

namespace CounterApp;

/// <summary>The line protocol (see Program.cs); the session is the connection's turn count, 8 bytes.</summary>
public sealed class LineCounter(Totals totals) : RelayConnectionHandler
{
    private static readonly string Generation = Environment.GetEnvironmentVariable("AETERNA_GENERATION") ?? "0";
    private static readonly bool RefuseSessions = (Environment.GetEnvironmentVariable("COUNTER_MODE") ?? "") is var mode
        && mode.StartsWith("refuse-sessions-from=", StringComparison.Ordinal) && int.Parse(Generation) >= int.Parse(mode[21..]);

    public override async Task ServeAsync(RelayConnection connection)
    {
        long turn = connection.Session.Length == 8 ? BinaryPrimitives.ReadInt64LittleEndian(connection.Session.Span) : 0;
        while (true)
        {
            var result = await connection.Input.ReadAsync(connection.PauseRequested);
            var buffer = result.Buffer;
            while (buffer.PositionOf((byte)'\n') is { } end)
            {
                string line = Encoding.UTF8.GetString(buffer.Slice(0, end)).TrimEnd('\r');
                buffer = buffer.Slice(buffer.GetPosition(1, end));
                turn++;
                await connection.SendAsync(Encoding.UTF8.GetBytes($"{Generation} {Environment.ProcessId} {turn} {totals.Count()} {line}\n"));
                var session = new byte[8];
                BinaryPrimitives.WriteInt64LittleEndian(session, turn);
                connection.Session = session;
            }
            connection.Input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted) return;
            if (result.IsCanceled) return; // paused: the lines not handled are handed over

        }
    }

    /// <summary>It only answers lines: a handed connection needs no handler until its next one.</summary>
    public override bool WaitsForInput => true;

    public override bool IsValidSession(ReadOnlySpan<byte> session) => !RefuseSessions && session.Length is 0 or 8;

    public override async Task EndAsync(RelayConnection connection, string reason) =>
        await connection.SendAsync(Encoding.UTF8.GetBytes($"BYE {reason}\n"));
}
