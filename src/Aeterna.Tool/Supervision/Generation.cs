using System.Diagnostics;
using Aeterna.Interop;
using Aeterna.Protocol;
using Aeterna.Tool.Checkpoints;
using Aeterna.Tool.Configuration;
using Aeterna.Tool.Notify;
using Aeterna.Tool.Processes;
using Aeterna.Tool.Sessions;

namespace Aeterna.Tool.Supervision;

/// <summary>
/// Where a generation is in its life. It moves only through <see cref="Generation"/>'s own
/// transitions: Starting → Ready → Active ⇄ Frozen, any → Draining, any → Exited (for good).
/// </summary>
internal enum GenerationState { Starting, Ready, Active, Frozen, Draining, Exited }

/// <summary>
/// One running instance of the service (generation 1, 2, 3, …): its process (the leader of its
/// own process group), its sd_notify socket, its Aeterna protocol session if it opened one, and
/// what it has told us through either.
/// </summary>
internal sealed class Generation : IDisposable
{
    private readonly NotifySocket _notify;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _watchdogFailed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastWatchdog;
    private long _watchdogIntervalTicks;
    private long _readyDeadlineExtensionTicks;

    private GenerationSession? _session;
    private readonly Lock _transition = new();
    private GenerationState _state = GenerationState.Starting;
    private long _stateBytes = -1;
    private Generation? _stateSource;

    public Generation(int number, AeternaConfig config, string token, SpawnedProcess process, NotifySocket notify, Generation? stateSource)
    {
        TimeSpan watchdog = config.Readiness.Watchdog;
        Number = number;
        Config = config;
        Token = token;
        _stateSource = stateSource;
        Pid = process.Pid;
        Exited = process.Exited;
        _notify = notify;
        _watchdogIntervalTicks = watchdog.Ticks;
        _ = notify.ReceiveAsync(OnNotify);
        _ = Exited.ContinueWith(_ => Move(GenerationState.Exited), TaskScheduler.Default);
    }

    public int Number { get; }

    /// <summary>The config this generation was started with.</summary>
    public AeternaConfig Config { get; }

    /// <summary>AETERNA_TOKEN: the secret the generation opens its session with.</summary>
    public string Token { get; }

    /// <summary>
    /// The generation whose state this one is to import (set when a relay starts it), or null; null
    /// again once this one is active or has exited. Only its WELCOME reads it, and held for good it
    /// would keep every generation before it alive, each naming the one before.
    /// </summary>
    public Generation? StateSource => Volatile.Read(ref _stateSource);

    /// <summary>The checkpoint this one is to start from (a restart), or null.</summary>
    public Checkpoint? RestoreFrom { get; init; }

    /// <summary>Whether its WELCOME told it to wait for state before accepting.</summary>
    public bool ExpectsState => Session?.Welcome.ExpectState ?? false;

    /// <summary>The Aeterna protocol session, once the generation opened one (apps using the runtime or an SDK do).</summary>
    public GenerationSession? Session => Volatile.Read(ref _session);

    /// <summary>The process we started; also the process group id of the whole generation.</summary>
    public int Pid { get; }

    /// <summary>The pid signals go to: MAINPID= from the app if it sent one, else <see cref="Pid"/>.</summary>
    public int MainPid { get; private set; }

    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    public long StartedTimestamp { get; } = Stopwatch.GetTimestamp();

    public GenerationState State
    {
        get { lock (_transition) return _state; }
    }

    public Task<ExitStatus> Exited { get; }

    /// <summary>Size of the state it last handed over, took over or checkpointed (serialized + regions); null while unknown.</summary>
    public long? StateBytes => Interlocked.Read(ref _stateBytes) is >= 0 and var bytes ? bytes : null;

    public void RecordStateSize(long bytes) => Interlocked.Exchange(ref _stateBytes, bytes);

    /// <summary>Completes when the app sends READY=1 (sd_notify) or READY (its session).</summary>
    public Task NotifiedReady => _ready.Task;

    /// <summary>Completes with a reason when the watchdog is missed or the app sends WATCHDOG=trigger.</summary>
    public Task<string> WatchdogFailed => _watchdogFailed.Task;

    /// <summary>Whether the app has sent any sd_notify message at all.</summary>
    public bool HasNotified { get; private set; }

    /// <summary>The last STATUS= text.</summary>
    public string? StatusText { get; private set; }

    /// <summary>The app sent STOPPING=1.</summary>
    public bool Stopping { get; private set; }

    /// <summary>Total extension of the ready deadline requested with EXTEND_TIMEOUT_USEC=.</summary>
    public TimeSpan ReadyDeadlineExtension => TimeSpan.FromTicks(Interlocked.Read(ref _readyDeadlineExtensionTicks));

    public TimeSpan Uptime => Stopwatch.GetElapsedTime(StartedTimestamp);

    public bool HasExited => Exited.IsCompleted;

    private void OnNotify(NotifyMessage message)
    {
        HasNotified = true;
        foreach (var (key, value) in message.Assignments)
        {
            switch (key)
            {
                case "READY" when value == "1": _ready.TrySetResult(); break;
                case "STATUS": StatusText = value; break;
                case "STOPPING" when value == "1": Stopping = true; break;
                case "MAINPID" when int.TryParse(value, out int pid) && pid > 0: MainPid = pid; break;
                case "WATCHDOG" when value == "1": Interlocked.Exchange(ref _lastWatchdog, Stopwatch.GetTimestamp()); break;
                case "WATCHDOG" when value == "trigger": _watchdogFailed.TrySetResult("the app sent WATCHDOG=trigger"); break;
                case "WATCHDOG_USEC" when message.Microseconds(key) is { } interval:
                    Interlocked.Exchange(ref _watchdogIntervalTicks, interval.Ticks);
                    Interlocked.Exchange(ref _lastWatchdog, Stopwatch.GetTimestamp());
                    break;
                case "EXTEND_TIMEOUT_USEC" when message.Microseconds(key) is { } extension:
                    // systemd semantics: the deadline becomes now + extension; we add it to the elapsed time.
                    Interlocked.Exchange(ref _readyDeadlineExtensionTicks, Math.Max(0, (Uptime + extension).Ticks));
                    break;
            }
        }
    }

    /// <summary>Attaches the generation's session; false when it already has one.</summary>
    public bool AttachSession(GenerationSession session) => Interlocked.CompareExchange(ref _session, session, null) is null;

    /// <summary>READY on the session.</summary>
    public void OnSessionReady()
    {
        HasNotified = true;
        _ready.TrySetResult();
    }

    /// <summary>STATUS on the session.</summary>
    public void OnStatus(string text) => StatusText = text;

    /// <summary>The last HEALTH report on the session, if any, and when it came (Stopwatch timestamp).</summary>
    public HealthMessage? Health { get; private set; }

    public long HealthTimestamp { get; private set; }

    /// <summary>HEALTH reports with ok = false in a row, up to the last one.</summary>
    public int UnhealthyInARow { get; private set; }

    public void OnHealth(HealthMessage health)
    {
        UnhealthyInARow = health.Ok ? 0 : UnhealthyInARow + 1;
        Health = health;
        HealthTimestamp = Stopwatch.GetTimestamp();
    }

    /// <summary>
    /// The generation is ready: from now on its watchdog is watched (during a relay's soak as
    /// much as once it is active), until it exits.
    /// </summary>
    public void MarkReady()
    {
        if (Move(GenerationState.Ready, GenerationState.Starting))
            _ = MonitorWatchdogAsync();
    }

    /// <summary>It becomes the generation the supervisor keeps running (ready first, if it was not yet).</summary>
    public void Activate()
    {
        MarkReady();
        Move(GenerationState.Active, GenerationState.Ready);
    }

    /// <summary>It stopped accepting to hand its state over (FREEZE); it waits, frozen, as the rollback target.</summary>
    public void Freeze() => Move(GenerationState.Frozen, GenerationState.Active);

    /// <summary>It accepts again after a freeze: it resumed, or its state was handed back.</summary>
    public void Resume() => Move(GenerationState.Active, GenerationState.Frozen);

    /// <summary>
    /// Moves to <paramref name="to"/> if the generation is in one of <paramref name="from"/> (any
    /// state but Exited when none is given); false otherwise. Exited is final.
    /// </summary>
    private bool Move(GenerationState to, params ReadOnlySpan<GenerationState> from)
    {
        lock (_transition)
        {
            if (_state == GenerationState.Exited || (from.Length > 0 && !from.Contains(_state))) return false;
            _state = to;
            if (to is GenerationState.Active or GenerationState.Exited) Volatile.Write(ref _stateSource, null);
            return true;
        }
    }

    /// <summary>
    /// Watches WATCHDOG=1 pings until the generation exits: a gap longer than the interval
    /// (WATCHDOG_USEC) completes <see cref="WatchdogFailed"/>.
    /// </summary>
    private async Task MonitorWatchdogAsync()
    {
        Interlocked.CompareExchange(ref _lastWatchdog, Stopwatch.GetTimestamp(), 0);
        while (!HasExited && !_watchdogFailed.Task.IsCompleted)
        {
            var interval = TimeSpan.FromTicks(Interlocked.Read(ref _watchdogIntervalTicks));
            if (interval <= TimeSpan.Zero)
            {
                await Task.WhenAny(Exited, Task.Delay(TimeSpan.FromMilliseconds(500)));
                continue;
            }
            var silent = Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastWatchdog));
            if (silent > interval)
            {
                _watchdogFailed.TrySetResult($"no WATCHDOG=1 for {silent.TotalMilliseconds:0} ms (WATCHDOG_USEC is {interval.TotalMilliseconds:0} ms)");
                return;
            }
            await Task.WhenAny(Exited, Task.Delay(interval - silent + TimeSpan.FromMilliseconds(10)));
        }
    }

    public string NotifySocketPath => _notify.Path;

    /// <summary>Sends <paramref name="signal"/> to the main process; false when it is already gone.</summary>
    public bool Signal(int signal) => !HasExited && Libc.Kill(MainPid > 0 ? MainPid : Pid, signal) == 0;

    /// <summary>SIGKILLs every process left in the generation's process group.</summary>
    public void KillGroup() => Libc.Kill(-Pid, Libc.SIGKILL);

    /// <summary>
    /// Retires the generation: SIGTERM (or <paramref name="signal"/>), then after
    /// <paramref name="drainTimeout"/> SIGKILL to the whole group. Whatever is left of the group
    /// when the main process exits is killed too: the generation is over.
    /// </summary>
    /// <returns>The exit status, and whether it had to be killed.</returns>
    public async Task<(ExitStatus Status, bool Killed)> StopAsync(TimeSpan drainTimeout, int signal = Libc.SIGTERM)
    {
        Move(GenerationState.Draining);
        Signal(signal);
        bool killed = false;
        if (await Task.WhenAny(Exited, Task.Delay(drainTimeout)) != Exited)
        {
            killed = true;
            KillGroup();
        }
        var status = await Exited;
        KillGroup();
        return (status, killed);
    }

    public void Dispose()
    {
        _notify.Dispose();
        Session?.Dispose();
    }
}
