using Aeterna.Tool.Configuration;
using Aeterna.Tool.Processes;
using Aeterna.Tool.Sockets;
using Aeterna.Tool.Supervision;

namespace Aeterna.Tool.Readiness;

/// <summary>The outcome of waiting for a generation to become ready.</summary>
internal abstract record ReadinessResult
{
    /// <summary>Ready; <paramref name="Signal"/> says what showed it ("READY=1", "waiting on every listener", "alive 1 s").</summary>
    public sealed record Ready(string Signal) : ReadinessResult;

    public sealed record Exited(ExitStatus Status) : ReadinessResult;

    public sealed record TimedOut(TimeSpan After) : ReadinessResult;
}

/// <summary>Whether a new generation became ready: step 4 of a relay, and every restart.</summary>
internal interface IReadiness
{
    /// <summary>Waits until <paramref name="generation"/> is ready, has exited, or has had its <c>readiness.timeout</c>.</summary>
    Task<ReadinessResult> WaitAsync(Generation generation, ReadinessConfig config, CancellationToken cancel);
}

/// <summary>Waits until a new generation is ready by the configured <see cref="ReadinessMode"/>, on the supervisor's listeners.</summary>
internal sealed class ReadinessWaiter(IReadOnlyList<BoundListener> listeners) : IReadiness
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(20);

    public async Task<ReadinessResult> WaitAsync(Generation generation, ReadinessConfig config, CancellationToken cancel)
    {
        bool useListening = config.Mode == ReadinessMode.Listening || (config.Mode == ReadinessMode.Auto && listeners.Count > 0);
        bool useDelay = config.Mode == ReadinessMode.Delay || (config.Mode == ReadinessMode.Auto && listeners.Count == 0);
        bool useNotify = config.Mode is ReadinessMode.Notify or ReadinessMode.Auto;

        while (true)
        {
            cancel.ThrowIfCancellationRequested();
            if (generation.Exited.IsCompleted)
                return new ReadinessResult.Exited(await generation.Exited);
            if (useNotify && generation.NotifiedReady.IsCompleted)
                return new ReadinessResult.Ready(generation.Session is null ? "READY=1" : "READY (Aeterna session)");
            var uptime = generation.Uptime;
            if (useDelay && uptime >= config.Delay)
                return new ReadinessResult.Ready($"alive {config.Delay.TotalSeconds:0.###} s");
            // A generation with an Aeterna session says READY itself; its listeners may be open
            // before it wants connections (it waits for its predecessor's state).
            if (useListening && generation.Session is null && ListeningDetector.IsListening(generation.Pid, listeners))
                return new ReadinessResult.Ready("waiting for connections on every listener");
            var deadline = config.Timeout + generation.ReadyDeadlineExtension;
            if (uptime >= deadline)
                return new ReadinessResult.TimedOut(uptime);

            await Task.WhenAny(generation.Exited, generation.NotifiedReady, Task.Delay(Tick, cancel));
        }
    }
}
