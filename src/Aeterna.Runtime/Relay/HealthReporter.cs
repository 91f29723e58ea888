using Aeterna.Kestrel;
using Aeterna.Protocol;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Aeterna.Relay;

/// <summary>
/// Sends HEALTH to the supervisor every <c>health_interval_ms</c>: how many requests this
/// generation served and how many failed, and, when the app registered ASP.NET Core health checks,
/// their verdict. It is what the supervisor watches while this generation soaks as a canary; it
/// reaches this generation itself, unlike a probe through the shared listener.
/// </summary>
internal sealed class HealthReporter(SupervisorSession session, RequestGate requests, HealthCheckService? checks, ILogger logger)
{
    public async Task RunAsync(CancellationToken stopping)
    {
        var interval = TimeSpan.FromMilliseconds(session.Welcome.HealthIntervalMs);
        if (interval <= TimeSpan.Zero) return;
        using var timer = new PeriodicTimer(interval);
        try
        {
            do
            {
                var (ok, detail) = await CheckAsync(stopping).ConfigureAwait(false);
                var (served, failed) = requests.Counts;
                await session.SendAsync(FrameType.Health, new HealthMessage(ok, detail, served, failed), ProtocolJson.Default.HealthMessage, stopping).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false));
        }
        catch (OperationCanceledException) { }
        catch (ProtocolException e)
        {
            logger.LogDebug("aeterna: health reports stopped: {Reason}", e.Message);
        }
    }

    /// <summary>
    /// One round of the checks and one HEALTH message, not sent, before READY: their first run
    /// compiles a few hundred methods, which would otherwise compete with a relay that starts the
    /// moment this generation is ready.
    /// </summary>
    public async Task WarmUpAsync(CancellationToken cancel)
    {
        var (ok, detail) = await CheckAsync(cancel).ConfigureAwait(false);
        _ = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new HealthMessage(ok, detail, 0, 0), ProtocolJson.Default.HealthMessage);
    }

    private async Task<(bool Ok, string? Detail)> CheckAsync(CancellationToken stopping)
    {
        if (checks is null) return (true, null);
        try
        {
            var report = await checks.CheckHealthAsync(stopping).ConfigureAwait(false);
            string? detail = report.Status == HealthStatus.Healthy ? null
                : string.Join("; ", report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy).Select(e => $"{e.Key}: {e.Value.Status} {e.Value.Description}".Trim()));
            return (report.Status != HealthStatus.Unhealthy, detail);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return (false, $"the health checks threw {e.GetType().Name}: {e.Message}");
        }
    }
}
