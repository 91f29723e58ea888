using System.Text.Json;
using Aeterna.Protocol;
using Aeterna.State;

namespace Aeterna.Relay;

/// <summary>
/// One export and one import of scratch state (fresh instances of the app's state types, never the
/// live ones) through a private socket pair, and one of each session message, run while the
/// generation warms up. A relay then finds the hand-over's code already compiled: without this,
/// just-in-time compilation in two fresh processes makes the first hand-over of every generation
/// some 50–80 ms slower (docs/benchmarks.md), all of it inside the window where new connections wait.
/// </summary>
internal static class RelayRehearsal
{
    public static async Task RunAsync(RelayStateSet states, int maxFrame, CancellationToken cancel)
    {
        foreach (string mechanism in new[] { "pipe", "shm" })
        {
            var source = Scratch(states);
            var target = Scratch(states);
            var (a, b) = FrameChannel.CreatePair();
            using var exporter = FrameChannel.FromHandle(a, maxFrame);
            using var importer = FrameChannel.FromHandle(b, maxFrame);
            var export = StateExport.ExportAsync(exporter, source, new StateBuffer(), mechanism, maxFrame, cancel);
            await StateImport.ImportAsync(importer, target, long.MaxValue, validateFirst: true, cancel).ConfigureAwait(false);
            await export.ConfigureAwait(false);
        }
        var json = ProtocolJson.Default;
        _ = JsonSerializer.SerializeToUtf8Bytes(new FrozenMessage { Transfer = 0 }, json.FrozenMessage);
        _ = JsonSerializer.SerializeToUtf8Bytes(new PreparedMessage(0, 0, 0, 0), json.PreparedMessage);
        _ = JsonSerializer.SerializeToUtf8Bytes(new AcceptingMessage(0, MonotonicClock.Nanoseconds), json.AcceptingMessage);
        _ = JsonSerializer.SerializeToUtf8Bytes(new FailedMessage(0, "", ""), json.FailedMessage);
        foreach (var payload in new[] { """{"transfer":0,"mechanism":"auto","deadline_ms":1}""", """{"transfer":0,"from_generation":0}""", """{"transfer":0}""", """{"transfer":0,"reason":""}""" })
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(payload);
            _ = Frame.Decode(FrameType.Freeze, bytes, json.FreezeMessage);
            _ = Frame.Decode(FrameType.Import, bytes, json.ImportMessage);
            _ = Frame.Decode(FrameType.Commit, bytes, json.CommitMessage);
            _ = Frame.Decode(FrameType.Resume, bytes, json.ResumeMessage);
        }
    }

    private static RelayStateSet Scratch(RelayStateSet states)
    {
        var set = new RelayStateSet();
        foreach (var entry in states.Entries) set.Add(entry.Name, entry.CreateScratch(), entry.CreateScratch);
        return set;
    }
}
