using Aeterna.Interop;
using Aeterna.Protocol;
using Aeterna.Tool.Logging;
using Microsoft.Win32.SafeHandles;

namespace Aeterna.Tool.Checkpoints;

/// <summary>
/// The supervisor's last checkpoint of the service's state, held by fd; with
/// state_handoff.checkpoint_path also on disk, written in the background (newest wins), and read
/// back when the supervisor starts.
/// </summary>
internal sealed class CheckpointStore(string? path, EventLog log) : IDisposable
{
    private const int StateSeals = Libc.F_SEAL_SHRINK | Libc.F_SEAL_GROW | Libc.F_SEAL_WRITE;
    private const int SizeSeals = Libc.F_SEAL_SHRINK | Libc.F_SEAL_GROW;

    private readonly Lock _gate = new();
    private Checkpoint? _latest;
    private Checkpoint? _toPersist;
    private bool _persisting;

    public Checkpoint? Latest
    {
        get { lock (_gate) return _latest; }
    }

    /// <summary>Reads the checkpoint file, if there is one; a damaged file is reported and ignored (the service starts empty).</summary>
    public void Load()
    {
        if (path is null || !File.Exists(path)) return;
        try
        {
            var checkpoint = CheckpointFile.Read(path);
            lock (_gate) _latest = checkpoint;
            log.Info("checkpoint.load", $"read the checkpoint {path}: {checkpoint.StateBytes} state bytes, {checkpoint.Regions.Length} region(s), taken {checkpoint.Age.TotalSeconds:0.#} s ago by generation {checkpoint.Generation}");
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            log.Error("checkpoint.load", $"cannot use the checkpoint {path}: {e.Message}; the service starts without it. Fix: delete or restore the file");
        }
    }

    /// <summary>
    /// Takes a CHECKPOINT frame from the active generation; returns what was wrong when it is
    /// unusable (its fds are closed then).
    /// </summary>
    public string? Accept(Frame frame, int generation)
    {
        var message = frame.Read(ProtocolJson.Default.CheckpointMessage);
        var fds = Enumerable.Range(0, frame.FdCount).Select(frame.TakeFd).ToList();
        string? problem = Check(message, fds);
        if (problem is not null)
        {
            foreach (var fd in fds) fd.Dispose();
            return problem;
        }
        var checkpoint = new Checkpoint(message.Sections, message.Regions, message.StateBytes, fds[0], [.. fds.Skip(1)],
            DateTimeOffset.UtcNow - TimeSpan.FromMilliseconds(Math.Max(0, (MonotonicClock.Nanoseconds - message.TakenNs) / 1e6)), generation);
        Checkpoint? previous;
        bool persist;
        lock (_gate)
        {
            previous = _latest;
            _latest = checkpoint;
            persist = path is not null && !_persisting;
            if (path is not null) _toPersist = checkpoint;
            if (persist) _persisting = true;
        }
        // Closing the previous one's fds is safe even while a restore sends them: sending holds a reference.
        if (!ReferenceEquals(previous, checkpoint)) previous?.Dispose();
        if (persist) _ = Task.Run(PersistLoop);
        return null;
    }

    private static string? Check(CheckpointMessage message, List<SafeFileHandle> fds)
    {
        if (message.Sections is null || message.Regions is null || message.Sections.Sum(s => s.Bytes) != message.StateBytes)
            return "its sections do not add up to its size";
        if (fds.Count != 1 + message.Regions.Length)
            return $"it carries {fds.Count} fds for {message.Regions.Length} region(s) and the state";
        if (!Has(fds[0], message.StateBytes, StateSeals))
            return "its state memfd is not sealed against writes or is not the announced size";
        for (int i = 0; i < message.Regions.Length; i++)
            if (!Has(fds[i + 1], message.Regions[i].Bytes, SizeSeals))
                return $"region '{message.Regions[i].Name}' is not size-sealed or is not the announced size";
        return null;
    }

    private static bool Has(SafeFileHandle file, long bytes, int seals)
    {
        try
        {
            int fd = (int)file.DangerousGetHandle();
            return (Libc.GetSeals(fd) & seals) == seals && Libc.FileLength(fd) == bytes;
        }
        catch (IOException) { return false; }
    }

    /// <summary>Writes checkpoints to the file one at a time; a newer one that came meanwhile is written next.</summary>
    private void PersistLoop()
    {
        while (true)
        {
            Checkpoint? checkpoint;
            lock (_gate)
            {
                checkpoint = _toPersist;
                _toPersist = null;
                if (checkpoint is null)
                {
                    _persisting = false;
                    return;
                }
            }
            var handles = new List<SafeFileHandle> { checkpoint.StateFile };
            handles.AddRange(checkpoint.RegionFiles);
            var held = new List<SafeFileHandle>();
            try
            {
                foreach (var handle in handles)
                {
                    bool added = false;
                    handle.DangerousAddRef(ref added);
                    held.Add(handle);
                }
                CheckpointFile.Write(checkpoint, path!);
            }
            catch (ObjectDisposedException) { } // replaced by a newer one before we got to it
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log.Error("checkpoint.write", $"cannot write the checkpoint to {path}: {e.Message}. Fix: make the directory writable, or unset state_handoff.checkpoint_path");
            }
            finally
            {
                foreach (var handle in held) handle.DangerousRelease();
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _latest?.Dispose();
            _latest = null;
        }
    }
}
