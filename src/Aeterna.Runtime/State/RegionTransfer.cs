namespace Aeterna.State;

/// <summary>
/// Where an export puts the memory regions (<see cref="RelayMemory{T}"/>) it meets: they travel
/// beside the serialized bytes as file descriptors, and the bytes hold only their index.
/// </summary>
internal interface IRegionSink
{
    /// <summary>Adds a region to the export; returns its index.</summary>
    int Add(MemoryRegion region);
}

/// <summary>The memory regions that arrived with serialized state, by index.</summary>
internal interface IRegionSource
{
    /// <summary>The region at <paramref name="index"/>; each may be taken once.</summary>
    MemoryRegion Take(int index);
}
