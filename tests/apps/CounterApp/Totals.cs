using Aeterna;

namespace CounterApp;

/// <summary>How many lines the service has answered, across every connection and generation.</summary>
public sealed partial class Totals
{
    [RelayState] private long _lines;

    public long Count() => Interlocked.Increment(ref _lines);
}
