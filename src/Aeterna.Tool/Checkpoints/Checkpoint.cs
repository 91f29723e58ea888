using Aeterna.Protocol;
using Microsoft.Win32.SafeHandles;

namespace Aeterna.Tool.Checkpoints;

/// <summary>
/// The last state a generation checkpointed: its sections in a sealed memfd and its RelayMemory
/// regions, held by fd. Nothing of it is in the supervisor's own memory.
/// </summary>
internal sealed class Checkpoint(StateSection[] sections, StateRegion[] regions, long stateBytes, SafeFileHandle stateFile, SafeFileHandle[] regionFiles, DateTimeOffset takenAt, int generation) : IDisposable
{
    public StateSection[] Sections { get; } = sections;

    public StateRegion[] Regions { get; } = regions;

    public long StateBytes { get; } = stateBytes;

    /// <summary>The sealed memfd with the sections' bytes.</summary>
    public SafeFileHandle StateFile { get; } = stateFile;

    public SafeFileHandle[] RegionFiles { get; } = regionFiles;

    public DateTimeOffset TakenAt { get; } = takenAt;

    /// <summary>The generation that took it (0 when read from a file).</summary>
    public int Generation { get; } = generation;

    public TimeSpan Age => DateTimeOffset.UtcNow - TakenAt;

    public long RegionBytes => Regions.Sum(r => r.Bytes);

    public void Dispose()
    {
        StateFile.Dispose();
        foreach (var region in RegionFiles) region.Dispose();
    }
}
