using System.Globalization;
using System.Text;
using Aeterna.Tool.Configuration;
using Aeterna.Tool.Logging;
using Aeterna.Tool.Relay;

namespace Aeterna.Tool.Supervision;

/// <summary>
/// Opt-in convergence (<c>watch:</c>): the config file and the watched paths are the desired
/// state; when they change and stay quiet for the debounce time, the supervisor relays to them.
/// </summary>
/// <remarks>
/// Polled (twice a second) rather than watched with inotify: Kubernetes updates a mounted
/// ConfigMap by swapping a symlink, a release is often a symlink to a new directory, and bind
/// mounts hide events; a fingerprint of what stat() sees (after following links) catches all of
/// them. A change whose relay fails is not tried again until the files change again: no loop.
/// </remarks>
/// <param name="current">The config of the active generation: what is watched, and what a relay left.</param>
/// <param name="relays">Where the relays go.</param>
/// <param name="log">The supervisor's log.</param>
internal sealed class ChangeWatcher(Func<AeternaConfig> current, RelayCoordinator relays, EventLog log)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(500);

    public async Task RunAsync(CancellationToken stopping)
    {
        string settled = Fingerprint(current());
        string? failed = null;
        try
        {
            while (true)
            {
                await Task.Delay(Poll, stopping).ConfigureAwait(false);
                var watch = current().Watch;
                string now = Fingerprint(current());
                if (now == settled || now == failed) continue;

                // Wait until nothing has changed for the debounce time: a deploy writes several files.
                var quiet = DateTime.UtcNow;
                while (DateTime.UtcNow - quiet < watch.Debounce)
                {
                    await Task.Delay(Poll < watch.Debounce ? Poll : watch.Debounce, stopping).ConfigureAwait(false);
                    string later = Fingerprint(current());
                    if (later != now) (now, quiet) = (later, DateTime.UtcNow);
                }
                log.Info("watch.change", "a watched file changed: relaying to it");
                var report = await relays.RelayAsync("watch", new RelayOptions()).ConfigureAwait(false);
                switch (report.Outcome)
                {
                    case RelayOutcome.Committed:
                        settled = Fingerprint(current());
                        failed = null;
                        break;
                    case RelayOutcome.Refused when report.Reason?.StartsWith("relay ", StringComparison.Ordinal) == true:
                        break; // another relay was running: look again on the next poll
                    default:
                        failed = now;
                        log.Warn("watch.failed", $"the relay to the changed files did not commit ({report.Reason}); it is not retried until they change again");
                        break;
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>What stat() says of the config file and the watched paths (following links; directories recursively, up to a limit).</summary>
    internal static string Fingerprint(AeternaConfig config)
    {
        const int MaxEntries = 10_000;
        var text = new StringBuilder();
        var watch = config.Watch;
        var roots = new List<string>(watch.Paths);
        if (watch.Config) roots.Add(config.SourcePath);
        int entries = 0;
        void Add(FileSystemInfo info)
        {
            if (++entries > MaxEntries) return;
            info.Refresh();
            string target = info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? info.FullName;
            text.Append(info.FullName).Append('→').Append(target).Append('|');
            if (!info.Exists) { text.Append("missing;"); return; }
            var resolved = target == info.FullName ? info : (info is DirectoryInfo ? new DirectoryInfo(target) : new FileInfo(target));
            text.Append(resolved.LastWriteTimeUtc.Ticks).Append('|');
            if (resolved is FileInfo file) text.Append(file.Length);
            text.Append(';');
        }
        foreach (string root in roots)
        {
            try
            {
                if (Directory.Exists(root))
                {
                    var directory = new DirectoryInfo(root);
                    Add(directory);
                    var real = directory.ResolveLinkTarget(returnFinalTarget: true) as DirectoryInfo ?? directory;
                    foreach (var entry in real.EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true }).OrderBy(e => e.FullName, StringComparer.Ordinal))
                        Add(entry);
                }
                else Add(new FileInfo(root));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                text.Append(root).Append("|unreadable;");
            }
        }
        return Fnv1a.Hash64(Encoding.UTF8.GetBytes(text.ToString())).ToString("x16", CultureInfo.InvariantCulture);
    }
}
