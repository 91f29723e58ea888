using System.Text;

namespace Aeterna.Tool.Notify;

/// <summary>
/// One sd_notify datagram: newline-separated KEY=VALUE assignments (READY=1, STATUS=…,
/// STOPPING=1, WATCHDOG=1, WATCHDOG=trigger, WATCHDOG_USEC=…, EXTEND_TIMEOUT_USEC=…, MAINPID=…).
/// Unknown keys are kept and ignored, as systemd does.
/// </summary>
internal sealed record NotifyMessage(IReadOnlyList<KeyValuePair<string, string>> Assignments)
{
    /// <summary>Datagrams are small; a larger one is truncated to this and the rest ignored.</summary>
    public const int MaxSize = 4096;

    public static NotifyMessage Parse(ReadOnlySpan<byte> datagram)
    {
        var assignments = new List<KeyValuePair<string, string>>();
        foreach (var line in Encoding.UTF8.GetString(datagram).Split('\n'))
        {
            int eq = line.IndexOf('=');
            if (eq > 0)
                assignments.Add(new(line[..eq], line[(eq + 1)..]));
        }
        return new NotifyMessage(assignments);
    }

    public string? this[string key] => Assignments.LastOrDefault(a => a.Key == key).Value;

    /// <summary>A microsecond value such as WATCHDOG_USEC, or null when absent or malformed.</summary>
    public TimeSpan? Microseconds(string key) =>
        ulong.TryParse(this[key], out ulong usec) && usec <= (ulong)TimeSpan.MaxValue.Ticks / 10
            ? TimeSpan.FromTicks((long)usec * 10) : null;
}
