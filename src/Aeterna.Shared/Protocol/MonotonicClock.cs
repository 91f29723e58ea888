using System.Diagnostics;

namespace Aeterna.Protocol;

/// <summary>
/// CLOCK_MONOTONIC in nanoseconds: on Linux <see cref="Stopwatch"/> reads it, and it is the same
/// clock in every process of the machine, so the supervisor can measure the handover latency as
/// (new generation accepting) − (old generation stopped accepting).
/// </summary>
internal static class MonotonicClock
{
    public static long Nanoseconds => (long)(Stopwatch.GetTimestamp() * (1e9 / Stopwatch.Frequency));
}
