using System.Diagnostics;
using Aeterna.Connections;
using Aeterna.Interop;
using Aeterna.Protocol;
using Aeterna.Serialization;
using Aeterna.State;
using Microsoft.Win32.SafeHandles;

namespace Aeterna.Relay;

/// <summary>What an export sent.</summary>
internal sealed record ExportResult(string Mechanism, long StateBytes, IReadOnlyList<MemoryRegion> Regions, double Milliseconds, int Connections = 0, long ConnectionBytes = 0)
{
    public long RegionBytes => Regions.Sum(r => r.ByteLength);
}

/// <summary>
/// Writes the app's state to the importing generation over the transfer socket
/// (docs/protocol.md, "State transfer"): StateBegin, the bytes (StateChunk frames for
/// <c>pipe</c>, one sealed memfd for <c>shm</c>), StateRegions (the fds of every RelayMemory),
/// CONNECTIONS (the sockets of handed connections, with their read-ahead and session), StateEnd.
/// State never passes through the supervisor.
/// </summary>
internal static class StateExport
{
    /// <summary>With mechanism <c>auto</c>, state of this size or more goes through a memfd instead of the socket.</summary>
    public const int ShmThreshold = 1 << 20;

    public static async Task<ExportResult> ExportAsync(FrameChannel transfer, RelayStateSet states, StateBuffer buffer, string mechanism, int maxChunk, CancellationToken cancel,
        IReadOnlyList<HandedConnection>? connections = null)
    {
        // Packed first: STATE_BEGIN announces how many connections follow and their bytes. A record
        // too large for one frame stays here, and is ended here at RELEASE (in neither list).
        connections ??= [];
        var tooLarge = new List<int>();
        var frames = ConnectionFrames.Pack(HandedConnections.Records(connections), maxChunk, tooLarge);
        int sentConnections = frames.Sum(f => f.Records.Count);
        long connectionBytes = frames.Sum(f => (long)f.Payload.Length);

        var started = Stopwatch.GetTimestamp();
        var regions = new RegionCollector();
        var sections = Serialize(states, buffer, regions);
        long bytes = buffer.Written;
        string used = mechanism switch
        {
            "pipe" or "shm" => mechanism,
            _ => bytes >= ShmThreshold ? "shm" : "pipe",
        };

        await transfer.SendAsync(FrameType.StateBegin, new StateBeginMessage
        {
            Mechanism = used,
            Sections = [.. sections],
            Regions = [.. regions.Regions.Select(r => new StateRegion(r.Name, r.ByteLength))],
            StateBytes = bytes,
            Connections = sentConnections,
            ConnectionBytes = connectionBytes,
        }, ProtocolJson.Default.StateBeginMessage, cancel: cancel).ConfigureAwait(false);

        SafeFileHandle? stateFile = null;
        try
        {
            if (used == "pipe")
            {
                foreach (var segment in buffer.Segments)
                    for (int offset = 0; offset < segment.Length; offset += maxChunk)
                        await transfer.SendAsync(FrameType.StateChunk, segment.Slice(offset, Math.Min(maxChunk, segment.Length - offset)), cancel: cancel).ConfigureAwait(false);
            }
            else
            {
                stateFile = SealedCopy(buffer);
            }

            var fds = new List<System.Runtime.InteropServices.SafeHandle>();
            if (stateFile is not null) fds.Add(stateFile);
            fds.AddRange(regions.Regions.Select(r => r.File));
            for (int i = 0; i < fds.Count; i += FrameHeader.MaxFds)
                await transfer.SendAsync(FrameType.StateRegions, ReadOnlyMemory<byte>.Empty, fds.Skip(i).Take(FrameHeader.MaxFds).ToList(), cancel).ConfigureAwait(false);

            foreach (var (payload, records) in frames)
            {
                var sockets = records.Select(i => (System.Runtime.InteropServices.SafeHandle)connections[i].Connection.Handle).ToList();
                // From here the next generation may adopt it: this one writes to it no more until RELEASE or RESUME says.
                foreach (int i in records) connections[i].Sent = true;
                await transfer.SendAsync(FrameType.Connections, payload, sockets, cancel).ConfigureAwait(false);
            }

            await transfer.SendAsync(FrameType.StateEnd, new StateEndMessage(bytes, regions.Regions.Count, sentConnections), ProtocolJson.Default.StateEndMessage, cancel: cancel).ConfigureAwait(false);
        }
        finally
        {
            stateFile?.Dispose(); // the importer holds its own copy of the fd now
        }
        return new ExportResult(used, bytes, regions.Regions, Stopwatch.GetElapsedTime(started).TotalMilliseconds, sentConnections, connectionBytes);
    }

    /// <summary>Each state object into <paramref name="buffer"/>, one section after another.</summary>
    internal static List<StateSection> Serialize(RelayStateSet states, StateBuffer buffer, IRegionSink? regions)
    {
        buffer.Reset();
        var sections = new List<StateSection>(states.Entries.Count);
        foreach (var entry in states.Entries)
        {
            long start = buffer.Written;
            var writer = new RelayWriter(buffer, regions);
            entry.Instance.WriteState(ref writer);
            writer.Flush();
            sections.Add(new StateSection(entry.Name, buffer.Written - start));
        }
        return sections;
    }

    /// <summary>
    /// The state bytes in a new memfd, written with write(2) (no mapping, so it can be sealed
    /// against writes): the importer maps it read-only and knows nobody can change it.
    /// </summary>
    internal static SafeFileHandle SealedCopy(StateBuffer buffer)
    {
        var file = new SafeFileHandle(Libc.CreateMemoryFile("aeterna:state", buffer.Written), ownsHandle: true);
        try
        {
            long offset = 0;
            foreach (var segment in buffer.Segments)
            {
                RandomAccess.Write(file, segment.Span, offset);
                offset += segment.Length;
            }
            Libc.AddSeals((int)file.DangerousGetHandle(), Libc.F_SEAL_SHRINK | Libc.F_SEAL_GROW | Libc.F_SEAL_WRITE | Libc.F_SEAL_SEAL);
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Collects the RelayMemory regions an export meets; the same region twice is sent once.</summary>
    internal sealed class RegionCollector : IRegionSink
    {
        public List<MemoryRegion> Regions { get; } = [];

        public int Add(MemoryRegion region)
        {
            int index = Regions.IndexOf(region);
            if (index >= 0) return index;
            Regions.Add(region);
            return Regions.Count - 1;
        }
    }
}
