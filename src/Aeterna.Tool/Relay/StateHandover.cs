using Aeterna.Protocol;
using Aeterna.Tool.Checkpoints;
using Aeterna.Tool.Configuration;
using Aeterna.Tool.Logging;
using Aeterna.Tool.Sessions;
using Aeterna.Tool.Supervision;

namespace Aeterna.Tool.Relay;

/// <summary>
/// The state hand-over over the Aeterna protocol (docs/protocol.md, "The hand-over"). The
/// supervisor only directs it: it gives the exporting and the importing generation the two ends of
/// a fresh socket pair (FREEZE and IMPORT), and the state, memfds included, flows between them
/// without passing through the supervisor. Then COMMIT to the importer, or, when anything fails,
/// ABORT to the importer and RESUME to the exporter.
/// </summary>
internal sealed class StateHandover(EventLog log) : IStateHandover
{
    private int _lastTransfer;

    public async Task<HandoverReport?> HandOverAsync(Generation from, Generation to, AeternaConfig config, CancellationToken cancel)
    {
        var handoff = config.Orchestration.StateHandoff;
        if (!handoff.Enabled || from.Session is not { Stateful: true } source) return null;
        string types = string.Join(", ", source.Hello.StateTypes ?? []);
        if (to.Session is not { } target)
            throw new RelayFailedException(RelayOutcome.NotReady,
                $"generation {to.Number} did not open an Aeterna session, so it cannot take the state of generation {from.Number} ({types}). Fix: build the new version with Aeterna.Runtime (builder.AddAeterna()), or set state_handoff.enabled: false to relay without state");
        if (!target.Stateful)
            throw new RelayFailedException(RelayOutcome.NotReady,
                $"generation {to.Number} registers no relay state, but generation {from.Number} holds some ({types}): it would be lost. Fix: register it in the new version (services.AddRelayState<T>()), or set state_handoff.enabled: false to drop it on purpose");

        from.Freeze();
        try
        {
            var report = await TransferAsync(source, target, handoff, cancel).ConfigureAwait(false);
            from.RecordStateSize(report.StateBytes + report.RegionBytes);
            to.RecordStateSize(report.StateBytes + report.RegionBytes);
            log.Info("handover.done", $"generation {from.Number} → {to.Number}: {Describe(report)}",
                ("bytes", report.StateBytes), ("regions", report.Regions), ("latency_ms", report.LatencyMs));
            return report;
        }
        catch (TransferFailedException e)
        {
            string resumed = await ResumeAsync(source, handoff).ConfigureAwait(false);
            throw new RelayFailedException(RelayOutcome.RolledBack, $"state hand-over failed: {e.Message}; {resumed}");
        }
    }

    public async Task<string> RollBackAsync(Generation from, Generation to, AeternaConfig config, CancellationToken cancel)
    {
        var handoff = config.Orchestration.StateHandoff;
        if (from.Session is not { } original || from.HasExited)
            return $"generation {from.Number} exited while frozen: there is nothing to roll back to";
        string lost = $"what generation {to.Number} changed in the {to.Uptime.TotalSeconds:0.#} s it served is lost";
        if (to.Session is { Stateful: true } newer && !to.HasExited)
        {
            try
            {
                var back = await TransferAsync(newer, original, handoff, cancel).ConfigureAwait(false);
                from.Resume();
                return $"generation {to.Number} handed its state back to generation {from.Number} ({Describe(back)})";
            }
            catch (TransferFailedException e)
            {
                log.Warn("handover.back", $"generation {to.Number} could not hand its state back: {e.Message}");
                return $"generation {to.Number} could not hand its state back ({e.Message}); {await ResumeAsync(original, handoff).ConfigureAwait(false)}; {lost}";
            }
        }
        return $"{await ResumeAsync(original, handoff).ConfigureAwait(false)}; {lost}";
    }

    /// <summary>
    /// Feeds a restarted generation the last checkpoint: the supervisor itself is the exporter here,
    /// passing the checkpoint's fds (never its bytes) on the transfer socket. If that fails, the
    /// generation is told to serve anyway, empty, rather than not at all. Returns what happened.
    /// </summary>
    public async Task<string> RestoreAsync(Generation to, Checkpoint checkpoint, StateHandoffConfig handoff)
    {
        if (to.Session is not { } importer) return $"generation {to.Number} has no session; its checkpoint was not restored";
        int id = Interlocked.Increment(ref _lastTransfer);
        using var deadline = new CancellationTokenSource(handoff.Timeout + TimeSpan.FromSeconds(1));
        string age = $"{checkpoint.Age.TotalSeconds:0.#} s";
        try
        {
            var (mine, theirs) = FrameChannel.CreatePair();
            using (theirs)
                await importer.SendAsync(FrameType.Import, new ImportMessage(id, checkpoint.Generation), ProtocolJson.Default.ImportMessage, [theirs], deadline.Token).ConfigureAwait(false);
            using (var exporter = FrameChannel.FromHandle(mine))
            {
                await exporter.SendAsync(FrameType.StateBegin, new StateBeginMessage { Mechanism = "shm", Sections = checkpoint.Sections, Regions = checkpoint.Regions, StateBytes = checkpoint.StateBytes },
                    ProtocolJson.Default.StateBeginMessage, cancel: deadline.Token).ConfigureAwait(false);
                var fds = new List<System.Runtime.InteropServices.SafeHandle> { checkpoint.StateFile };
                fds.AddRange(checkpoint.RegionFiles);
                for (int i = 0; i < fds.Count; i += FrameHeader.MaxFds)
                    await exporter.SendAsync(FrameType.StateRegions, ReadOnlyMemory<byte>.Empty, fds.Skip(i).Take(FrameHeader.MaxFds).ToList(), deadline.Token).ConfigureAwait(false);
                await exporter.SendAsync(FrameType.StateEnd, new StateEndMessage(checkpoint.StateBytes, checkpoint.Regions.Length), ProtocolJson.Default.StateEndMessage, cancel: deadline.Token).ConfigureAwait(false);
            }
            using (await ReplyAsync(importer, id, FrameType.Prepared, "restore", deadline.Token).ConfigureAwait(false)) { }
            await importer.SendAsync(FrameType.Commit, new CommitMessage(id), ProtocolJson.Default.CommitMessage, cancel: deadline.Token).ConfigureAwait(false);
            using (await ReplyAsync(importer, id, FrameType.Accepting, "commit", deadline.Token).ConfigureAwait(false)) { }
            return $"generation {to.Number} restored the checkpoint taken {age} ago by generation {checkpoint.Generation} ({Bytes(checkpoint.StateBytes)}{(checkpoint.Regions.Length > 0 ? $" + {checkpoint.Regions.Length} region(s) of {Bytes(checkpoint.RegionBytes)}" : "")}); what changed after it is lost";
        }
        catch (Exception e) when (e is TransferFailedException or ProtocolException or OperationCanceledException or SessionLostException or ObjectDisposedException)
        {
            string reason = e is OperationCanceledException ? "it took longer than state_handoff.timeout" : e.Message;
            await TrySendAsync(importer, FrameType.Commit, new CommitMessage(id), ProtocolJson.Default.CommitMessage).ConfigureAwait(false);
            return $"generation {to.Number} could not restore the checkpoint taken {age} ago ({reason}); it starts empty";
        }
    }

    /// <summary>One transfer, FREEZE/IMPORT to COMMIT/ACCEPTING; throws <see cref="TransferFailedException"/> with the first cause.</summary>
    private async Task<HandoverReport> TransferAsync(GenerationSession exporter, GenerationSession importer, StateHandoffConfig handoff, CancellationToken cancel)
    {
        int id = Interlocked.Increment(ref _lastTransfer);
        string mechanism = handoff.Mechanism.ToString().ToLowerInvariant();
        // Connections travel only between two generations that both were granted it, so neither
        // ever meets a frame it cannot read.
        bool connections = exporter.HandsConnections && importer.HandsConnections;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        // Quiesce and export, then import, each get state_handoff.timeout; the generations enforce
        // their part, the supervisor the whole.
        deadline.CancelAfter(handoff.Timeout * 2 + TimeSpan.FromSeconds(1));
        try
        {
            var (mine, theirs) = FrameChannel.CreatePair();
            using (mine)
            using (theirs)
            {
                await importer.SendAsync(FrameType.Import, new ImportMessage(id, exporter.Generation.Number, connections), ProtocolJson.Default.ImportMessage, [theirs], deadline.Token).ConfigureAwait(false);
                await exporter.SendAsync(FrameType.Freeze, new FreezeMessage(id, mechanism, handoff.Timeout.TotalMilliseconds, connections), ProtocolJson.Default.FreezeMessage, [mine], deadline.Token).ConfigureAwait(false);
            }
            var frozenTask = ReplyAsync(exporter, id, FrameType.Frozen, "export", deadline.Token);
            var preparedTask = ReplyAsync(importer, id, FrameType.Prepared, "import", deadline.Token);
            try { await Task.WhenAll(frozenTask, preparedTask).ConfigureAwait(false); }
            catch (TransferFailedException) when (Cause(frozenTask, preparedTask) is { } cause) { throw cause; }
            using var frozenFrame = await frozenTask.ConfigureAwait(false);
            using var preparedFrame = await preparedTask.ConfigureAwait(false);
            var frozen = frozenFrame.Read(ProtocolJson.Default.FrozenMessage);
            var prepared = preparedFrame.Read(ProtocolJson.Default.PreparedMessage);

            await importer.SendAsync(FrameType.Commit, new CommitMessage(id), ProtocolJson.Default.CommitMessage, cancel: deadline.Token).ConfigureAwait(false);
            // From here the adopted connections are the importer's, whatever happens next: the
            // exporter closes its copies and ends the refused ones. Before COMMIT there is no
            // RELEASE, and a RESUME gives the exporter every connection back.
            var handed = connections ? await ReleaseAsync(exporter, id, frozen, prepared).ConfigureAwait(false) : null;
            using var accepting = await ReplyAsync(importer, id, FrameType.Accepting, "commit", deadline.Token).ConfigureAwait(false);
            var started = accepting.Read(ProtocolJson.Default.AcceptingMessage);
            return new HandoverReport(frozen.Mechanism, frozen.StateBytes, frozen.Regions, frozen.RegionBytes,
                (started.AcceptingNs - frozen.StoppedAcceptingNs) / 1e6, frozen.QuiesceMs, frozen.ExportMs, prepared.ImportMs, handed);
        }
        catch (Exception e) when (e is TransferFailedException or ProtocolException or OperationCanceledException or SessionLostException)
        {
            string reason = e switch
            {
                OperationCanceledException when cancel.IsCancellationRequested => "the supervisor is stopping",
                OperationCanceledException => $"it took longer than state_handoff.timeout ({handoff.Timeout.TotalSeconds:0.###} s for export and import each)",
                _ => e.Message,
            };
            await TrySendAsync(importer, FrameType.Abort, new AbortMessage(id, reason), ProtocolJson.Default.AbortMessage).ConfigureAwait(false);
            throw e as TransferFailedException ?? new TransferFailedException(reason);
        }
    }

    /// <summary>
    /// When both sides failed, the one whose failure was not the other closing the transfer socket:
    /// an importer that refuses the state (too large, unreadable) closes its end, and the
    /// exporter's broken pipe is only the consequence; the other way round likewise.
    /// </summary>
    private static TransferFailedException? Cause(Task<Frame> export, Task<Frame> import)
    {
        if (export.Exception?.InnerException is not TransferFailedException exported
            || import.Exception?.InnerException is not TransferFailedException imported) return null;
        return exported.Code == "Closed" && imported.Code is not (null or "Closed") ? imported : exported;
    }

    /// <summary>
    /// RELEASE to the exporter with the importer's two lists (an id it handed that is in neither is
    /// refused, so a short list costs a connection, never a duplicate). If the exporter is gone
    /// its copies went with it, which is what RELEASE asks for.
    /// </summary>
    private async Task<ConnectionsReport> ReleaseAsync(GenerationSession exporter, int id, FrozenMessage frozen, PreparedMessage prepared)
    {
        var decided = prepared.Connections ?? new PreparedConnections([], []);
        if (!await TrySendAsync(exporter, FrameType.Release, new ReleaseMessage(id, decided.Adopted, decided.Refused), ProtocolJson.Default.ReleaseMessage).ConfigureAwait(false))
            log.Warn("handover.release", $"generation {exporter.Generation.Number} could not be told which connections of transfer {id} were adopted; its copies close with it");
        string? reasons = decided.Refused.Length == 0 ? null
            : string.Join(", ", decided.Refused.GroupBy(r => r.Reason).Select(g => $"{g.Key} × {g.Count()}"));
        int missing = frozen.Connections - decided.Adopted.Length - decided.Refused.Length;
        if (missing > 0)
            log.Warn("handover.connections", $"the importer decided on {decided.Adopted.Length + decided.Refused.Length} of the {frozen.Connections} connections handed to it; the exporter ends the other {missing}");
        return new ConnectionsReport(frozen.Connections, decided.Adopted.Length, frozen.Connections - decided.Adopted.Length, reasons);
    }

    /// <summary>How long a generation whose session ended may take to be reaped, for the report to say how it exited.</summary>
    private static readonly TimeSpan SessionToExit = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// The generation's answer of type <paramref name="expected"/>; its FAILED, its exit, or its
    /// lost session become a <see cref="TransferFailedException"/> that says which side and why.
    /// </summary>
    private static async Task<Frame> ReplyAsync(GenerationSession session, int transfer, FrameType expected, string step, CancellationToken cancel)
    {
        var generation = session.Generation;
        var reply = session.NextReplyAsync(transfer, cancel);
        var first = await Task.WhenAny(reply, generation.Exited).ConfigureAwait(false);
        if (first != reply)
            throw new TransferFailedException($"generation {generation.Number} {await generation.Exited.ConfigureAwait(false)} during the {step}");
        Frame frame;
        try { frame = await reply.ConfigureAwait(false); }
        catch (SessionLostException e)
        {
            // A process that dies closes its session a moment before its exit is reaped: wait that
            // moment, so the report says it exited and how, the likelier and more useful cause.
            if (await Task.WhenAny(generation.Exited, Task.Delay(SessionToExit, CancellationToken.None)).ConfigureAwait(false) == generation.Exited)
                throw new TransferFailedException($"generation {generation.Number} {await generation.Exited.ConfigureAwait(false)} during the {step}");
            throw new TransferFailedException($"generation {generation.Number}'s session ended during the {step}: {e.Message}");
        }
        if (frame.Type == expected) return frame;
        using (frame)
        {
            if (frame.Type == FrameType.Failed)
            {
                var failed = frame.Read(ProtocolJson.Default.FailedMessage);
                throw new TransferFailedException($"generation {generation.Number}'s {step} failed ({failed.Code}): {failed.Error}", failed.Code);
            }
            throw new TransferFailedException($"generation {generation.Number} answered {frame.Type} where {expected} was due");
        }
    }

    /// <summary>RESUME to a frozen generation and wait until it accepts again; says how that went.</summary>
    private static async Task<string> ResumeAsync(GenerationSession session, StateHandoffConfig handoff)
    {
        var generation = session.Generation;
        int id = -generation.Number; // RESUME answers with ACCEPTING for this id
        if (!await TrySendAsync(session, FrameType.Resume, new ResumeMessage(id, "the relay failed"), ProtocolJson.Default.ResumeMessage).ConfigureAwait(false))
            return $"generation {generation.Number} could not be told to resume";
        using var timeout = new CancellationTokenSource(handoff.Timeout);
        try
        {
            using var _ = await ReplyAsync(session, id, FrameType.Accepting, "resume", timeout.Token).ConfigureAwait(false);
            generation.Resume();
            return $"generation {generation.Number} resumed from the state it froze with";
        }
        catch (Exception e) when (e is TransferFailedException or OperationCanceledException)
        {
            return $"generation {generation.Number} did not resume ({(e is OperationCanceledException ? "no answer" : e.Message)})";
        }
    }

    private static async Task<bool> TrySendAsync<T>(GenerationSession session, FrameType type, T message, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> json)
    {
        try
        {
            await session.SendAsync(type, message, json).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is ProtocolException or ObjectDisposedException) { return false; }
    }

    internal static string Describe(HandoverReport r) =>
        $"{Bytes(r.StateBytes)} by {r.Mechanism}{(r.Regions > 0 ? $" + {r.Regions} memory region(s) of {Bytes(r.RegionBytes)} by fd" : "")}{Describe(r.Connections)}; handover latency {r.LatencyMs:0.###} ms (quiesce {r.QuiesceMs:0.###}, export {r.ExportMs:0.###}, import {r.ImportMs:0.###})";

    private static string Describe(ConnectionsReport? c) => c is null || c.Handed == 0 ? ""
        : $" + {c.Handed} connection(s) by fd, {c.Adopted} adopted{(c.Refused > 0 ? $", {c.Refused} refused ({c.Reasons ?? "no answer"}) and ended by the exporter" : "")}";

    internal static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.##} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.##} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:0.#} KiB",
        _ => $"{bytes} B",
    };

    /// <summary>A failed transfer; <see cref="Code"/> is the FAILED code of the side that said why.</summary>
    private sealed class TransferFailedException(string message, string? code = null) : Exception(message)
    {
        public string? Code { get; } = code;
    }
}
