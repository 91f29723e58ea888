using System.Diagnostics;
using Aeterna.Connections;
using Aeterna.Interop;
using Aeterna.Protocol;
using Aeterna.Serialization;
using Aeterna.State;
using Microsoft.Win32.SafeHandles;

namespace Aeterna.Relay;

/// <summary>What an import read and applied.</summary>
internal sealed record ImportResult(string Mechanism, long StateBytes, IReadOnlyList<MemoryRegion> Regions, double Milliseconds, IReadOnlyList<string> SkippedSections);

/// <summary>
/// Reads state from the exporting generation (docs/protocol.md, "State transfer") and applies it
/// to the app's state objects. Everything is received and checked (sizes, CRCs, seals, totals)
/// before any state object is touched, so a cut or corrupt transfer changes nothing.
/// </summary>
internal static class StateImport
{
    /// <summary>More regions than this in one state is not a real app; refuse rather than hold thousands of fds.</summary>
    public const int MaxRegions = 4096;

    private const int RequiredStateSeals = Libc.F_SEAL_SHRINK | Libc.F_SEAL_GROW | Libc.F_SEAL_WRITE;

    /// <summary>
    /// Receives a whole state and applies it. With <paramref name="validateFirst"/> every section
    /// is first read into a scratch instance before the live ones are touched: for a generation that
    /// keeps serving if the import fails (the old one taking its state back on rollback). With
    /// <paramref name="connections"/> (IMPORT granted them), the transfer may carry CONNECTIONS
    /// frames; each is checked and given, with its fds, to the staging as it arrives, which the
    /// caller finishes or, when this throws, discards.
    /// </summary>
    public static async Task<ImportResult> ImportAsync(FrameChannel transfer, RelayStateSet states, long maxStateBytes, bool validateFirst, CancellationToken cancel, ConnectionStaging? connections = null)
    {
        var started = Stopwatch.GetTimestamp();
        StateBeginMessage begin;
        using (var frame = await transfer.ReceiveAsync(FrameType.StateBegin, cancel).ConfigureAwait(false))
            begin = frame.Read(ProtocolJson.Default.StateBeginMessage);
        Check(begin, maxStateBytes);
        if (begin.Connections != 0 && connections is null)
            throw Malformed($"StateBegin announces {begin.Connections} connections, but this transfer was not granted connections");
        var tally = new ConnectionTally(begin.Connections, begin.ConnectionBytes);
        if (begin.StateBytes + begin.ConnectionBytes > maxStateBytes)
            throw new ProtocolException(ProtocolError.TooLarge, $"the state is {begin.StateBytes} bytes and its connections {begin.ConnectionBytes}; the limit is {maxStateBytes} (state_handoff.max_state_size)");
        // One step for the fd table rather than a doubling (and an RCU grace period) every few thousand fds.
        if (begin.Connections > 0) FileDescriptors.MakeRoom(begin.Connections, reserve: 64);

        byte[]? received = null;
        var fds = new List<SafeFileHandle>();
        var regions = new List<MemoryRegion>();
        nint stateMapping = 0;
        try
        {
            if (begin.Mechanism == "pipe")
                received = await ReceiveChunksAsync(transfer, begin.StateBytes, cancel).ConfigureAwait(false);

            int expectedFds = begin.Regions.Length + (begin.Mechanism == "shm" ? 1 : 0);
            while (fds.Count < expectedFds)
            {
                using var frame = await transfer.ReceiveAsync(FrameType.StateRegions, cancel).ConfigureAwait(false);
                if (fds.Count + frame.FdCount > expectedFds)
                    throw Malformed($"the exporter sent {fds.Count + frame.FdCount} file descriptors; StateBegin announced {expectedFds}");
                for (int i = 0; i < frame.FdCount; i++) fds.Add(frame.TakeFd(i));
            }

            while (true)
            {
                using var frame = await transfer.ReceiveAsync(cancel).ConfigureAwait(false);
                if (frame.Type == FrameType.Connections && connections is not null)
                {
                    var records = ConnectionRecord.ParseFrame(frame.Payload, frame.FdCount);
                    tally.Add(records, frame.Payload.Length);
                    var batch = new ReceivedConnection[records.Length];
                    for (int i = 0; i < records.Length; i++)
                        batch[i] = new ReceivedConnection(records[i], frame.HasFd(i) ? frame.TakeFd(i) : null);
                    // Staged now, while the exporter sends the next frame.
                    connections.Add(batch);
                    continue;
                }
                if (frame.Type != FrameType.StateEnd)
                    throw Malformed($"expected a StateEnd frame{(connections is not null ? " or Connections" : "")} after the regions, got {frame.Type}");
                var message = frame.Read(ProtocolJson.Default.StateEndMessage);
                if (message.StateBytes != begin.StateBytes || message.Regions != begin.Regions.Length)
                    throw Malformed($"StateEnd says {message.StateBytes} bytes and {message.Regions} regions; StateBegin said {begin.StateBytes} and {begin.Regions.Length}");
                tally.Finish(message.Connections);
                break;
            }

            int firstRegionFd = 0;
            if (begin.Mechanism == "shm")
            {
                stateMapping = MapSealedState(fds[0], begin.StateBytes);
                firstRegionFd = 1;
            }
            for (int i = 0; i < begin.Regions.Length; i++)
            {
                var fd = fds[firstRegionFd + i];
                fds[firstRegionFd + i] = null!;
                regions.Add(MemoryRegion.Adopt(fd, begin.Regions[i].Name, begin.Regions[i].Bytes));
            }

            var skipped = Apply(states, begin, received, stateMapping, regions, validateFirst);
            return new ImportResult(begin.Mechanism, begin.StateBytes, regions, Stopwatch.GetElapsedTime(started).TotalMilliseconds, skipped);
        }
        catch
        {
            foreach (var region in regions) region.Dispose();
            throw;
        }
        finally
        {
            foreach (var fd in fds) fd?.Dispose();
            if (stateMapping != 0) Libc.Munmap(stateMapping, (nuint)begin.StateBytes);
        }
    }

    private static void Check(StateBeginMessage begin, long maxStateBytes)
    {
        if (begin.Mechanism is not ("pipe" or "shm"))
            throw Malformed($"unknown state mechanism '{begin.Mechanism}'");
        if (begin.Sections is null || begin.Regions is null)
            throw Malformed("StateBegin lacks its sections or regions");
        if (begin.StateBytes < 0 || begin.Sections.Any(s => s.Bytes < 0 || s.Name is null) || begin.Regions.Any(r => r.Bytes < 0 || r.Name is null))
            throw Malformed("StateBegin has a negative size or an unnamed section");
        if (begin.StateBytes > maxStateBytes)
            throw new ProtocolException(ProtocolError.TooLarge, $"the state is {begin.StateBytes} bytes; the limit is {maxStateBytes} (state_handoff.max_state_size)");
        if (begin.Mechanism == "pipe" && begin.StateBytes > Array.MaxLength)
            throw new ProtocolException(ProtocolError.TooLarge, $"{begin.StateBytes} bytes of state cannot be streamed; use mechanism shm");
        if (begin.Sections.Sum(s => s.Bytes) != begin.StateBytes)
            throw Malformed($"the sections add up to {begin.Sections.Sum(s => s.Bytes)} bytes, but StateBegin says {begin.StateBytes}");
        if (begin.Sections.Any(s => s.Bytes > int.MaxValue))
            throw new ProtocolException(ProtocolError.TooLarge, "one state section is larger than 2 GiB; keep big data in RelayMemory");
        if (begin.Regions.Length > MaxRegions)
            throw new ProtocolException(ProtocolError.TooLarge, $"the state has {begin.Regions.Length} memory regions; at most {MaxRegions} are accepted");
    }

    /// <summary>The StateChunk frames, each received straight into its place and CRC-checked.</summary>
    private static async Task<byte[]> ReceiveChunksAsync(FrameChannel transfer, long total, CancellationToken cancel)
    {
        var data = GC.AllocateUninitializedArray<byte>((int)total);
        int offset = 0;
        while (offset < total)
        {
            var header = await transfer.ReceiveHeaderAsync(cancel).ConfigureAwait(false);
            if (header.Type != FrameType.StateChunk)
                throw Malformed($"expected a StateChunk frame after {offset} of {total} state bytes, got {header.Type}");
            if (header.FdCount != 0 || header.Length > total - offset)
                throw Malformed($"a StateChunk of {header.Length} bytes overruns the {total} bytes StateBegin announced");
            await transfer.ReceivePayloadAsync(header, data.AsMemory(offset, header.Length), cancel).ConfigureAwait(false);
            offset += header.Length;
        }
        return data;
    }

    /// <summary>Maps the shm state read-only after checking that nobody can change or resize it.</summary>
    private static nint MapSealedState(SafeFileHandle file, long bytes)
    {
        int fd = (int)file.DangerousGetHandle();
        if ((Libc.GetSeals(fd) & RequiredStateSeals) != RequiredStateSeals)
            throw Malformed("the state memfd is not sealed against writes and resizing");
        long length = Libc.FileLength(fd);
        if (length != bytes)
            throw Malformed($"the state memfd holds {length} bytes; StateBegin announced {bytes}");
        // Populated at once: one call maps every page, where reading would fault them in one by one.
        return Libc.Map(fd, bytes, Libc.PROT_READ, Libc.MAP_SHARED | Libc.MAP_POPULATE);
    }

    private static unsafe List<string> Apply(RelayStateSet states, StateBeginMessage begin, byte[]? received, nint mapping, List<MemoryRegion> regions, bool validateFirst)
    {
        ReadOnlySpan<byte> all = received is not null ? received : new ReadOnlySpan<byte>((void*)mapping, (int)Math.Min(begin.StateBytes, int.MaxValue));
        if (begin.Mechanism == "shm" && begin.StateBytes > int.MaxValue)
            throw new ProtocolException(ProtocolError.TooLarge, "more than 2 GiB of serialized state; keep big data in RelayMemory");

        var source = new ReceivedRegions(regions);
        var skipped = new List<string>();
        if (validateFirst)
            Read(states, begin, all, source, scratch: true, skipped: null);
        source.Reset();
        Read(states, begin, all, source, scratch: false, skipped);
        source.DisposeUntaken();
        return skipped;
    }

    private static void Read(RelayStateSet states, StateBeginMessage begin, ReadOnlySpan<byte> all, ReceivedRegions source, bool scratch, List<string>? skipped)
    {
        long offset = 0;
        foreach (var section in begin.Sections)
        {
            var bytes = all.Slice((int)offset, (int)section.Bytes);
            offset += section.Bytes;
            if (states.Find(section.Name) is not { } entry)
            {
                skipped?.Add(section.Name); // a state type the new version no longer has
                continue;
            }
            var target = scratch ? entry.CreateScratch() : entry.Instance;
            try
            {
                var reader = new RelayReader(bytes, source);
                target.ReadState(ref reader);
                if (reader.Remaining != 0)
                    throw new RelayFormatException($"{reader.Remaining} of {bytes.Length} bytes were left unread");
            }
            catch (RelayFormatException e)
            {
                throw new RelayFormatException($"state '{section.Name}' cannot be read: {e.Message}", e);
            }
        }
    }

    private static ProtocolException Malformed(string message) => new(ProtocolError.Malformed, message);

    /// <summary>The regions that came with the state; each may be taken once per reading pass.</summary>
    private sealed class ReceivedRegions(List<MemoryRegion> regions) : IRegionSource
    {
        private readonly bool[] _taken = new bool[regions.Count];
        private readonly bool[] _takenEver = new bool[regions.Count];

        public MemoryRegion Take(int index)
        {
            if ((uint)index >= (uint)regions.Count)
                throw new RelayFormatException($"the state refers to memory region {index}, but {regions.Count} came with it");
            if (_taken[index])
                throw new RelayFormatException($"memory region {index} is referred to twice");
            _taken[index] = _takenEver[index] = true;
            return regions[index];
        }

        public void Reset() => Array.Clear(_taken);

        /// <summary>Regions no state object took (e.g. a member the new version dropped) are released.</summary>
        public void DisposeUntaken()
        {
            for (int i = 0; i < regions.Count; i++)
                if (!_takenEver[i]) regions[i].Dispose();
        }
    }
}
