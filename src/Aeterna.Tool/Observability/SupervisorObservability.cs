using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Aeterna.Tool.Configuration;
using Aeterna.Tool.Control;
using Aeterna.Tool.Logging;
using Aeterna.Tool.Relay;
using Aeterna.Tool.Supervision;

namespace Aeterna.Tool.Observability;

/// <summary>
/// Everything the supervisor exposes about itself beyond its log: the metrics, the relay history
/// and the HTTP endpoint (/metrics, /healthz, /readyz, /status). The supervisor calls it at a few
/// points only (see docs/observability.md, "Hooks"):
/// <list type="bullet">
/// <item><see cref="Start"/> once, when the control socket is up (binds observability.metrics_port);</item>
/// <item><see cref="RelayFinished"/> when a relay ends, whatever its outcome (refusals included);</item>
/// <item><see cref="Complete"/> to add readiness and where to look to a status snapshot;</item>
/// <item><see cref="CheckpointTaken"/> when a checkpoint of a generation's state is taken.</item>
/// </list>
/// </summary>
internal sealed class SupervisorObservability
{
    private static readonly string Version =
        typeof(SupervisorObservability).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "unknown";

    private readonly EventLog _log;
    private readonly string? _metricsAddress;
    private CancellationToken _stopping;
    private HttpEndpoint? _endpoint;
    private readonly System.Buffers.ArrayBufferWriter<byte> _render = new(32 * 1024); // reused by every scrape (under its lock)

    public SupervisorObservability(AeternaConfig config, EventLog log)
    {
        _log = log;
        _metricsAddress = config.Observability.MetricsAddress;
        History = new RelayHistory(config.Observability.HistoryPath);
    }

    public SupervisorMetrics Metrics { get; } = new();

    public RelayHistory History { get; }

    /// <summary>Where the endpoint listens once started (null without observability.metrics_port).</summary>
    public System.Net.IPEndPoint? MetricsEndPoint => _endpoint?.LocalEndPoint;

    /// <summary>
    /// Makes the history writable and binds the metrics endpoint. Throws
    /// <see cref="ObservabilityStartException"/> (the start fails, like a listener that cannot be
    /// bound) rather than running without what the config asked for.
    /// </summary>
    public IDisposable Start(Func<StatusSnapshot> status, CancellationToken stopping)
    {
        _stopping = stopping;
        try
        {
            History.EnsureWritable();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ObservabilityStartException($"cannot write the relay history {History.Path}: {e.Message}. Fix: make its directory writable for this user, or set observability.history_path to a writable file");
        }
        if (_metricsAddress is not null)
        {
            try
            {
                _endpoint = HttpEndpoint.Start(_metricsAddress, request => Handle(status, request), _log);
            }
            catch (MetricsEndpointException e)
            {
                throw new ObservabilityStartException(e.Message);
            }
            _log.Info("metrics.start", $"observability endpoint on http://{Show(_endpoint.LocalEndPoint)}/metrics (also /healthz, /readyz, /status); relay history {History.Path}",
                ("address", Show(_endpoint.LocalEndPoint)), ("history", History.Path));
        }
        return new Stopper(this);
    }

    private static string Show(System.Net.IPEndPoint endPoint) =>
        endPoint.Address.Equals(System.Net.IPAddress.IPv6Any) ? $"[::]:{endPoint.Port}" : endPoint.ToString();

    private sealed class Stopper(SupervisorObservability owner) : IDisposable
    {
        public void Dispose() => owner._endpoint?.Dispose();
    }

    /// <summary>A relay ended (or was refused): metrics, and a line in the history.</summary>
    public void RelayFinished(RelayReport report, AeternaConfig current)
    {
        Metrics.RecordRelay(report);
        if (History.Append(report) is { } problem)
            _log.Warn("history.write", problem);
        if (report.Outcome == RelayOutcome.Committed && current.Observability.MetricsAddress != _metricsAddress)
            _log.Warn("metrics.unchanged", $"observability.metrics_port changed to '{current.Observability.MetricsAddress}'; the endpoint stays on '{_metricsAddress}' until the supervisor restarts");
    }

    /// <summary>
    /// The checkpoint hook: the supervisor took a checkpoint of the active generation's state,
    /// <paramref name="bytes"/> in all. Feeds aeterna_checkpoints_total and aeterna_last_checkpoint_*.
    /// </summary>
    public void CheckpointTaken(long bytes) => Metrics.RecordCheckpoint(bytes);

    /// <summary>Adds what the supervisor's own snapshot does not know: readiness, where to look.</summary>
    public StatusSnapshot Complete(StatusSnapshot snapshot)
    {
        var (ready, reason) = Readiness(snapshot);
        return snapshot with
        {
            Ready = ready,
            ReadyReason = reason,
            MetricsAddress = _endpoint is null ? null : Show(_endpoint.LocalEndPoint),
            HistoryPath = History.Path,
        };
    }

    /// <summary>Ready: a generation is active and running and the supervisor is not stopping. The reason says what is (not).</summary>
    private (bool Ready, string Reason) Readiness(StatusSnapshot s)
    {
        if (_stopping.IsCancellationRequested)
            return (false, "the supervisor is stopping");
        var active = s.Generations.FirstOrDefault(g => g.Active);
        if (active is null || active.State == GenerationState.Exited)
        {
            var starting = s.Generations.FirstOrDefault(g => g.State == GenerationState.Starting);
            return (false, starting is not null
                ? $"no active generation: generation {starting.Generation} (pid {starting.Pid}) is starting and not ready yet"
                : "no active generation: the last one exited and is being restarted (with back-off)");
        }
        string relay = s.RelayRunning is null ? "" : $"; {s.RelayRunning}";
        return (true, $"generation {active.Generation} (pid {active.Pid}) is {WireName.Of(active.State)}{relay}");
    }

    private HttpResponse Handle(Func<StatusSnapshot> status, HttpRequest request)
    {
        switch (request.Path)
        {
            case "/metrics":
            {
                var snapshot = status();
                lock (_render)
                {
                    Metrics.Render(_render, snapshot, snapshot.Ready, Version);
                    return HttpResponse.Pooled(200, PrometheusText.ContentType, _render.WrittenSpan);
                }
            }
            case "/healthz":
            {
                // Liveness: answering at all is the test (the supervisor's thread pool and event
                // loop work). It stays 200 during relays, restarts and back-off: a probe that
                // failed then would get the supervisor, and with it every generation and the
                // listening sockets, killed, which is exactly what Aeterna exists to avoid.
                var s = status();
                return HttpResponse.Text(200, $"ok: supervisor pid {s.SupervisorPid} up {s.UptimeSeconds:0} s; {(s.ActiveGeneration is { } g ? $"generation {g} active" : "no active generation (restarting)")}\n");
            }
            case "/readyz":
            {
                var s = status();
                return HttpResponse.Text(s.Ready ? 200 : 503, $"{(s.Ready ? "ready" : "not ready")}: {s.ReadyReason}\n");
            }
            case "/status":
            {
                var snapshot = status();
                lock (_render)
                {
                    _render.ResetWrittenCount();
                    using (var json = new Utf8JsonWriter(_render))
                        JsonSerializer.Serialize(json, snapshot, ControlJson.Default.StatusSnapshot);
                    return HttpResponse.Pooled(200, "application/json; charset=utf-8", _render.WrittenSpan);
                }
            }
            case "/":
                return HttpResponse.Text(200, "aeterna supervisor: /metrics /healthz /readyz /status\n");
            default:
                return HttpResponse.Text(404, $"not found: {request.Path}; try /metrics, /healthz, /readyz or /status\n");
        }
    }
}

/// <summary>The observability endpoint or history cannot be set up as configured; `start` fails with the message.</summary>
internal sealed class ObservabilityStartException(string message) : Exception(message);
