using Aeterna.Connections;
using Aeterna.Kestrel;
using Aeterna.Protocol;
using Aeterna.Relay;
using Aeterna.State;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Aeterna.Hosting;

/// <summary>
/// The runtime's part in the host's life: before any hosted service (Kestrel included) starts, it
/// opens the session with the supervisor and decides whether to accept at once (no state expected)
/// or only after the predecessor's state is imported; once the host has started it reports ready
/// and follows the supervisor's hand-over frames, reporting its health as it goes.
/// </summary>
internal sealed class AeternaService(RelayStateSet states, AcceptGate accepts, IServingGate gate, RequestGate requests, HandedConnections connections, AeternaContext context, IServiceProvider services, ILogger<AeternaService> logger) : IHostedLifecycleService
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _participant = Task.CompletedTask;
    private Task _health = Task.CompletedTask;
    private Task _checkpoints = Task.CompletedTask;

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        var session = await SupervisorSession.ConnectAsync(!states.IsEmpty || connections.HasEndpoints, [.. states.Entries.Select(e => e.Name)], RelaySchema.ManifestJson, cancellationToken).ConfigureAwait(false);
        context.Session = session;
        if (session is null)
        {
            accepts.Open();
            return;
        }
        if (session.Welcome.ExpectState)
            logger.LogInformation("aeterna: generation {Generation}: connections wait until the state {From} is imported", session.Welcome.Generation,
                session.Welcome.FromCheckpoint ? "of the last checkpoint" : $"of generation {session.Welcome.FromGeneration}");
        else
            accepts.Open();
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        if (context.Session is not { } session)
        {
            SdNotify.Send("READY=1");
            return;
        }
        if (!states.IsEmpty)
        {
            try { await RelayRehearsal.RunAsync(states, gate, session.Welcome, cancellationToken).ConfigureAwait(false); }
            catch (Exception e) when (e is ProtocolException or RelayFormatException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // The scratch state does not round-trip: the real hand-over would fail the same way. Say so now.
                logger.LogWarning("aeterna: a rehearsal of the state hand-over with empty state failed: {Error}", e is OperationCanceledException ? "it took longer than state_handoff.timeout" : e.Message);
            }
        }
        var health = new HealthReporter(session, requests, services.GetService(typeof(HealthCheckService)) as HealthCheckService, logger);
        await health.WarmUpAsync(cancellationToken).ConfigureAwait(false);
        var participant = new RelayParticipant(session, states, gate, logger, connections);
        context.Participant = participant;
        _participant = participant.RunAsync(_stopping.Token);
        _health = health.RunAsync(_stopping.Token);
        _checkpoints = new CheckpointWriter(session, states, requests, () => participant.IsFrozen, logger).RunAsync(_stopping.Token);
        await session.SendAsync(FrameType.Ready, new ReadyMessage(session.Welcome.ExpectState ? "warm; waiting for state" : "serving"), ProtocolJson.Default.ReadyMessage, cancellationToken).ConfigureAwait(false);
    }

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        await Task.WhenAll(_participant, _health, _checkpoints).ConfigureAwait(false);
        context.Session?.Dispose();
    }
}
