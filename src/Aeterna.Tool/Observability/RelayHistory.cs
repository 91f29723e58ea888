using System.Buffers;
using System.Text;
using System.Text.Json;
using Aeterna.Interop;
using Aeterna.Tool.Control;
using Aeterna.Tool.Relay;

namespace Aeterna.Tool.Observability;

/// <summary>
/// The append-only relay history: one JSON line per relay (the report `relay --json` prints), in
/// <c>relays.jsonl</c> beside the control socket or at observability.history_path. Each line goes
/// out in one write(2) on an O_APPEND descriptor, so it is whole, even with other writers; a torn
/// last line (the machine lost power mid-write) is skipped by the reader. Not fsync'ed: that
/// would block a thread-pool thread for milliseconds per relay on a busy disk, right when the
/// supervisor's next operation needs one, for a file that is information, not state (a crashed
/// supervisor loses nothing: the kernel has the line). The file outlives the
/// supervisor: a restarted supervisor shows the relays before it in `status` and carries on
/// numbering from the last id. It is kept bounded: past <see cref="MaxBytes"/> it is renamed to
/// <c>relays.jsonl.1</c> (replacing the previous one) and a new file begins.
/// </summary>
internal sealed class RelayHistory
{
    public const long MaxBytes = 8L << 20;

    /// <summary>How many recent relays are kept in memory for `status`.</summary>
    public const int Kept = 50;

    /// <summary>How much of the end of the file is read at start: far more than <see cref="Kept"/> lines.</summary>
    private const int TailBytes = 1 << 20;

    private readonly Lock _gate = new();
    private readonly List<RelayReport> _recent = [];
    private readonly ArrayBufferWriter<byte> _line = new(4096);

    public RelayHistory(string path, long maxBytes = MaxBytes)
    {
        Path = path;
        MaxFileBytes = maxBytes;
        foreach (var report in ReadTail(path + ".1").Concat(ReadTail(path)))
        {
            _recent.Add(report);
            LastId = Math.Max(LastId, report.Id);
        }
        if (_recent.Count > Kept) _recent.RemoveRange(0, _recent.Count - Kept);
    }

    public string Path { get; }

    public long MaxFileBytes { get; }

    /// <summary>The highest relay id in the file when it was opened (0 for none).</summary>
    public int LastId { get; }

    /// <summary>Creates the file (and its directory) if needed, so that a path that cannot be written fails the start, not a relay.</summary>
    public void EnsureWritable()
    {
        string directory = System.IO.Path.GetDirectoryName(Path)!;
        Directory.CreateDirectory(directory);
        Libc.Close(Libc.OpenForAppend(Path));
    }

    /// <summary>The last <paramref name="count"/> relays, oldest first.</summary>
    public IReadOnlyList<RelayReport> Recent(int count)
    {
        lock (_gate) return [.. _recent.TakeLast(count)];
    }

    /// <summary>
    /// Records one relay, in memory (for `status`) and as a line in the file. An I/O error is
    /// returned (for the log), never thrown: the history must not break a relay.
    /// </summary>
    public string? Append(RelayReport report)
    {
        lock (_gate)
        {
            _recent.Add(report);
            if (_recent.Count > Kept) _recent.RemoveAt(0);
            try
            {
                // One buffer for every line: nothing allocated per relay that is not kept.
                _line.ResetWrittenCount();
                using (var json = new Utf8JsonWriter(_line))
                    JsonSerializer.Serialize(json, report, ControlJson.Default.RelayReport);
                _line.Write("\n"u8);
                RotateIfFull(_line.WrittenCount);
                Libc.Append(Path, _line.WrittenSpan);
                return null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return $"could not append relay {report.Id} to the history {Path}: {e.Message}";
            }
        }
    }

    private void RotateIfFull(int adding)
    {
        var info = new FileInfo(Path);
        if (info.Exists && info.Length > 0 && info.Length + adding > MaxFileBytes)
            File.Move(Path, Path + ".1", overwrite: true);
    }

    /// <summary>Reports in the last MiB of <paramref name="path"/>, oldest first; torn or foreign lines are skipped.</summary>
    internal static List<RelayReport> ReadTail(string path)
    {
        var reports = new List<RelayReport>();
        byte[] tail;
        bool fromStart;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            long start = Math.Max(0, file.Length - TailBytes);
            fromStart = start == 0;
            file.Position = start;
            tail = new byte[file.Length - start];
            file.ReadExactly(tail);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException or UnauthorizedAccessException)
        {
            return reports;
        }
        var lines = Encoding.UTF8.GetString(tail).Split('\n');
        for (int i = fromStart ? 0 : 1; i < lines.Length; i++) // read from the middle, the first line is partial
        {
            string line = lines[i].Trim();
            if (line.Length == 0) continue;
            try
            {
                if (JsonSerializer.Deserialize(line, ControlJson.Default.RelayReport) is { } report)
                    reports.Add(report);
            }
            catch (JsonException) { } // a torn last line after a crash, or a line written by something else
        }
        return reports;
    }
}
