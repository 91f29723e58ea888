using Aeterna.Addresses;
using Aeterna.Interop;
using Aeterna.Protocol;
using Aeterna.Tool.Checkpoints;
using Aeterna.Tool.Configuration;
using Aeterna.Tool.Control;
using Aeterna.Tool.Logging;
using Aeterna.Tool.Notify;
using Aeterna.Tool.Observability;
using Aeterna.Tool.Processes;
using Aeterna.Tool.Readiness;
using Aeterna.Tool.Relay;
using Aeterna.Tool.Sessions;
using Aeterna.Tool.Sockets;

namespace Aeterna.Tool.Supervision;

/// <summary>
/// The supervisor: binds what it holds for its whole life (the listeners, the control and
/// session sockets, the observability endpoint), puts its parts together, and runs until a stop
/// signal: then every generation is stopped and it exits with the active one's code. The parts
/// own their state: <see cref="GenerationSet"/> the generations, <see cref="RelayCoordinator"/>
/// the relay (or restart) in progress, <see cref="RestartLoop"/> the restarts,
/// <see cref="CheckpointStore"/> the last checkpoint.
/// </summary>
internal sealed class Supervisor
{
    private readonly AeternaConfig _started; // the config as started: what is bound once comes from it
    private readonly EventLog _log;
    private readonly ChildReaper _reaper = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly SupervisorNotifier _manager = new(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"));
    private readonly IReadOnlyList<BoundListener> _listeners;
    private readonly CheckpointStore _checkpoints;
    private readonly SupervisorObservability _observability;
    private readonly GenerationSet _generations;
    private readonly RelayCoordinator _relays;
    private readonly RestartLoop _restarts;
    private readonly DateTimeOffset _startedAt = DateTimeOffset.UtcNow;
    private int _stopSignal = Libc.SIGTERM;

    /// <summary>Binds the listeners (in a 0700 runtime directory beside the control socket) and builds the parts.</summary>
    public Supervisor(AeternaConfig config, EventLog log)
    {
        _started = config;
        _log = log;
        string runtimeDirectory = Path.GetDirectoryName(config.Control.SocketPath)!;
        Directory.CreateDirectory(runtimeDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _listeners = ListenerBinder.BindAll(config.Listeners);

        var spawner = new ProcessSpawner(_reaper);
        var commands = new CommandRunner(spawner);
        var readiness = new ReadinessWaiter(_listeners);
        var handover = new StateHandover(log);
        _checkpoints = new CheckpointStore(config.Orchestration.StateHandoff.CheckpointPath, log);
        _observability = new SupervisorObservability(config, log);
        _generations = new GenerationSet(new GenerationLauncher(spawner, _listeners, runtimeDirectory, config.Orchestration.StateHandoff.SocketPath), config, log);
        var orchestrator = new RelayOrchestrator(_generations, new DesiredConfig(config), new PreflightRunner(commands), readiness, handover, new CanaryWatch(commands), log);
        _relays = new RelayCoordinator(orchestrator, _generations, _manager, log, _observability.History.LastId,
            report => _observability.RelayFinished(report, _generations.Config), _stopping.Token);
        _restarts = new RestartLoop(_generations, _relays, readiness, _checkpoints, handover, _manager, log);
    }

    /// <summary>Runs until stopped; returns the exit code for the process (the active generation's).</summary>
    public async Task<int> RunAsync()
    {
        bool pid1 = Environment.ProcessId == 1;
        if (!pid1 && !Libc.BecomeChildSubreaper())
            _log.Warn("supervisor.subreaper", "could not become a child subreaper: orphans of the service will be reaped by PID 1 instead");

        var config = _started;
        using var checkpoints = _checkpoints;
        _checkpoints.Load();
        using var sessions = SessionServer.Start(config.Orchestration.StateHandoff.SocketPath, _generations.FindByToken, OnCheckpoint, _log);
        using var control = ControlServer.Start(config.Control.SocketPath, _relays, Status, () => RequestStop(Libc.SIGTERM), _log);
        using var observability = _observability.Start(Status, _stopping.Token);
        using var signals = new SignalRouter(RequestStop, _generations.Forward, _relays, _log);
        using var trim = IdleTrim.Start();

        _log.Info("supervisor.start",
            $"supervising '{config.Service.Name}' (pid {Environment.ProcessId}{(pid1 ? ", PID 1" : "")}); control socket {config.Control.SocketPath}; "
            + (_listeners.Count == 0 ? "no listeners" : "listeners: " + string.Join(", ", _listeners.Select(l => $"{l.Name}={l.BoundAddress}"))),
            ("pid", Environment.ProcessId), ("control_socket", config.Control.SocketPath));

        var watching = config.Watch.Enabled ? new ChangeWatcher(() => _generations.Config, _relays, _log).RunAsync(_stopping.Token) : Task.CompletedTask;
        await _restarts.RunAsync(_stopping.Token);
        await watching;
        _manager.Send("STOPPING=1");
        int code = await StopAllAsync();
        foreach (var listener in _listeners)
        {
            listener.Socket.Dispose();
            if (listener.Config.Kind == ListenerKind.Unix) File.Delete(listener.Config.Path!);
        }
        _log.Info("supervisor.exit", $"supervisor exits with code {code}", ("code", code));
        return code;
    }

    /// <summary>Begins the graceful stop (SIGTERM, SIGINT, SIGQUIT or the control socket's stop).</summary>
    private void RequestStop(int signal)
    {
        if (_stopping.IsCancellationRequested) return;
        _stopSignal = signal;
        _log.Info("supervisor.stop", $"stopping on {Libc.SignalName(signal)}: every generation gets {Libc.SignalName(signal)}, SIGKILL after drain_timeout {_generations.Config.Orchestration.DrainTimeout.TotalSeconds:0.#} s");
        _stopping.Cancel();
    }

    private async Task<int> StopAllAsync()
    {
        // A relay in progress sees the cancellation and abandons its new generation; wait for it.
        await _relays.HoldForStopAsync().ConfigureAwait(false);
        var activeExit = await _generations.StopAllAsync(_stopSignal, _generations.Config.Orchestration.DrainTimeout).ConfigureAwait(false);
        return (activeExit ?? _restarts.LastActiveExit)?.ShellCode ?? 0;
    }

    /// <summary>A CHECKPOINT from a generation: kept when it comes from the active one (a frozen or retiring one's state is no longer the service's).</summary>
    private void OnCheckpoint(GenerationSession session, Frame frame)
    {
        var generation = session.Generation;
        if (generation != _generations.Active || generation.State != GenerationState.Active) return;
        if (_checkpoints.Accept(frame, generation.Number) is { } problem)
            _log.Warn("checkpoint.refused", $"generation {generation.Number} sent an unusable checkpoint: {problem}");
        else if (_checkpoints.Latest is { } checkpoint)
        {
            long bytes = checkpoint.StateBytes + checkpoint.RegionBytes;
            generation.RecordStateSize(bytes);
            _observability.CheckpointTaken(bytes);
        }
    }

    /// <summary>A consistent picture for `status`, `/status`, `/readyz` and `/metrics`.</summary>
    private StatusSnapshot Status()
    {
        var (generations, active) = _generations.Snapshot();
        var relay = _relays.Running;
        return _observability.Complete(new StatusSnapshot(
            _generations.Config.Service.Name,
            Environment.ProcessId,
            _started.SourcePath,
            (DateTimeOffset.UtcNow - _startedAt).TotalSeconds,
            active?.Number,
            relay?.ToString(),
            _restarts.Restarts,
            _reaper.OrphansReaped,
            _listeners.Select(l => new ListenerStatus(l.Name, l.BoundAddress)).ToList(),
            generations.Select(g => new GenerationStatus(g.Number, g.Pid, g.State,
                g.Uptime.TotalSeconds, g.StatusText, g == active)
            {
                Ready = g.State is not (GenerationState.Starting or GenerationState.Exited),
                Stateful = g.Session?.Stateful,
                StateBytes = g.StateBytes,
            }).ToList(),
            _observability.History.Recent(10))
        {
            RelayPhaseSeconds = relay?.InPhase is { } inPhase ? Math.Round(inPhase.TotalSeconds, 3) : null,
        });
    }
}
