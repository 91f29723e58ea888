using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Aeterna.Interop;
using Aeterna.Protocol;
using Microsoft.Win32.SafeHandles;

namespace Aeterna.Tool.Checkpoints;

/// <summary>
/// A checkpoint on disk (state_handoff.checkpoint_path), so that a restarted supervisor (a
/// restarted container) resumes too. Written atomically: a temporary file beside it, fsync,
/// rename, fsync of the directory. The format:
/// <code>
/// AETERNA-CHECKPOINT 1\n
/// {"taken_at": …, "generation": n, "sections": […], "regions": […], "state_bytes": n, "crc32c": n}\n
/// the state bytes, then each region's bytes, in order
/// </code>
/// with the CRC-32C over everything after the header line.
/// </summary>
internal static class CheckpointFile
{
    private const string Magic = "AETERNA-CHECKPOINT 1\n";
    private const int Chunk = 1 << 20;
    private const int MaxHeaderBytes = 1 << 20;

    public static void Write(Checkpoint checkpoint, string path)
    {
        string directory = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory);
        string temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1))
            {
                // The header carries the body's CRC: a first pass over the memfds (memory reads) computes it.
                uint crc = Crc32C.Start;
                var buffer = new byte[Chunk];
                var sources = new List<(SafeFileHandle File, long Bytes)> { (checkpoint.StateFile, checkpoint.StateBytes) };
                sources.AddRange(checkpoint.RegionFiles.Select((f, i) => (f, checkpoint.Regions[i].Bytes)));
                foreach (var (source, bytes) in sources)
                    for (long offset = 0; offset < bytes;)
                    {
                        int n = RandomAccess.Read(source, buffer.AsSpan(0, (int)Math.Min(Chunk, bytes - offset)), offset);
                        if (n <= 0) throw new IOException("a checkpoint memfd is shorter than its size");
                        crc = Crc32C.Append(crc, buffer.AsSpan(0, n));
                        offset += n;
                    }
                var header = JsonSerializer.SerializeToUtf8Bytes(new CheckpointHeader(checkpoint.TakenAt, checkpoint.Generation, checkpoint.Sections, checkpoint.Regions,
                    checkpoint.StateBytes, Crc32C.Finish(crc)), CheckpointJson.Default.CheckpointHeader);
                file.Write(Encoding.ASCII.GetBytes(Magic));
                file.Write(header);
                file.WriteByte((byte)'\n');
                foreach (var (source, bytes) in sources)
                    for (long offset = 0; offset < bytes;)
                    {
                        int n = RandomAccess.Read(source, buffer.AsSpan(0, (int)Math.Min(Chunk, bytes - offset)), offset);
                        file.Write(buffer, 0, n);
                        offset += n;
                    }
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
            Libc.SyncDirectory(directory);
        }
        catch
        {
            try { File.Delete(temporary); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>Reads a checkpoint file back into memfds; <see cref="InvalidDataException"/> names what is wrong.</summary>
    public static Checkpoint Read(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        var magic = new byte[Magic.Length];
        if (file.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false) != magic.Length || Encoding.ASCII.GetString(magic) != Magic)
            throw new InvalidDataException($"{path} is not an Aeterna checkpoint (it does not start with \"{Magic.Trim()}\")");
        var headerBytes = new List<byte>();
        int b;
        while ((b = file.ReadByte()) is >= 0 and not '\n')
        {
            if (headerBytes.Count == MaxHeaderBytes) throw new InvalidDataException($"{path}: the checkpoint header is longer than {MaxHeaderBytes} bytes");
            headerBytes.Add((byte)b);
        }
        CheckpointHeader header;
        try
        {
            header = JsonSerializer.Deserialize([.. headerBytes], CheckpointJson.Default.CheckpointHeader)
                ?? throw new InvalidDataException($"{path}: the checkpoint header is empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: the checkpoint header is not valid: {e.Message}", e);
        }
        if (header.Sections is null || header.Regions is null || header.StateBytes < 0 || header.Regions.Any(r => r.Bytes < 0)
            || header.Sections.Sum(s => s.Bytes) != header.StateBytes)
            throw new InvalidDataException($"{path}: the checkpoint header's sizes do not add up");
        long expected = file.Position + header.StateBytes + header.Regions.Sum(r => r.Bytes);
        if (file.Length != expected)
            throw new InvalidDataException($"{path}: the checkpoint is {file.Length} bytes; its header says {expected} (the file was cut or appended to)");

        var buffer = new byte[Chunk];
        uint crc = Crc32C.Start;
        SafeFileHandle Copy(long bytes, string name, int seals)
        {
            var memory = new SafeFileHandle(Libc.CreateMemoryFile("aeterna:" + name, bytes), ownsHandle: true);
            try
            {
                for (long offset = 0; offset < bytes;)
                {
                    int n = file.Read(buffer, 0, (int)Math.Min(Chunk, bytes - offset));
                    if (n <= 0) throw new InvalidDataException($"{path}: the checkpoint ends early");
                    crc = Crc32C.Append(crc, buffer.AsSpan(0, n));
                    RandomAccess.Write(memory, buffer.AsSpan(0, n), offset);
                    offset += n;
                }
                Libc.AddSeals((int)memory.DangerousGetHandle(), seals);
                return memory;
            }
            catch
            {
                memory.Dispose();
                throw;
            }
        }

        var state = Copy(header.StateBytes, "checkpoint", Libc.F_SEAL_SHRINK | Libc.F_SEAL_GROW | Libc.F_SEAL_WRITE | Libc.F_SEAL_SEAL);
        var regions = new List<SafeFileHandle>();
        try
        {
            foreach (var region in header.Regions) regions.Add(Copy(region.Bytes, region.Name, Libc.F_SEAL_SHRINK | Libc.F_SEAL_GROW));
            if (Crc32C.Finish(crc) != header.Crc32c)
                throw new InvalidDataException($"{path}: the checkpoint fails its CRC-32C: the file is corrupt");
            return new Checkpoint(header.Sections, header.Regions, header.StateBytes, state, [.. regions], header.TakenAt, header.Generation);
        }
        catch
        {
            state.Dispose();
            foreach (var r in regions) r.Dispose();
            throw;
        }
    }
}

/// <summary>The header line of a checkpoint file.</summary>
internal sealed record CheckpointHeader(DateTimeOffset TakenAt, int Generation, StateSection[] Sections, StateRegion[] Regions, long StateBytes, uint Crc32c);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(CheckpointHeader))]
internal sealed partial class CheckpointJson : JsonSerializerContext;
