using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Aeterna;
using Aeterna.Serialization;

namespace StatefulApp;

/// <summary>
/// The app's state: a key-value store and an optional block of floats in shared memory. Written
/// by hand here (the [RelayState] generator writes this for you); STATEFUL_MODE injects faults,
/// into real hand-overs only (the runtime also rehearses one with empty state at start-up).
/// </summary>
public sealed class Store : IRelayState
{
    private static readonly string Mode = Environment.GetEnvironmentVariable("STATEFUL_MODE") ?? "";

    public ConcurrentDictionary<string, string> Items { get; private set; } = new();

    public RelayMemory<float>? Memory { get; set; }

    public void WriteState(ref RelayWriter writer)
    {
        var items = Items.ToArray();
        if (items.Length > 0 && Mode == "crash-in-export")
            Task.Run(async () => { await Task.Delay(20); Environment.FailFast("test: crashing during the export"); });
        if (items.Length > 0 && Mode.StartsWith("stall-export=", StringComparison.Ordinal)) Thread.Sleep(TimeSpan.FromSeconds(double.Parse(Mode[13..])));
        writer.WriteVarUInt((ulong)items.Length);
        foreach (var (key, value) in items)
        {
            writer.WriteString(key);
            writer.WriteString(value);
        }
        writer.WriteMemory(Memory);
    }

    public void ReadState(ref RelayReader reader)
    {
        int count = reader.ReadLength("the items");
        if (count > 0 && Mode == "crash-in-import") Environment.FailFast("test: crashing during the import");
        if (count > 0 && Mode.StartsWith("stall-import=", StringComparison.Ordinal)) Thread.Sleep(TimeSpan.FromSeconds(double.Parse(Mode[13..])));
        if (count > 0 && Mode == "reject-import") throw new RelayFormatException("test: this version cannot read the old one's state");
        var items = new ConcurrentDictionary<string, string>();
        for (int i = 0; i < count; i++) items[reader.ReadString() ?? ""] = reader.ReadString() ?? "";
        Items = items;
        Memory = reader.ReadMemory<float>();
    }

    /// <summary>Fills a new shared block of <paramref name="floats"/> values with a pattern of <paramref name="seed"/>.</summary>
    public void FillMemory(long floats, int seed)
    {
        var memory = RelayMemory<float>.Allocate(floats, "test-block");
        const int chunk = 1 << 20;
        for (long start = 0; start < floats; start += chunk)
        {
            var span = memory.Slice(start, (int)Math.Min(chunk, floats - start));
            for (int i = 0; i < span.Length; i++) span[i] = (start + i) * 0.25f + seed;
        }
        Memory = memory;
    }

    /// <summary>CRC-32C of the block's bytes (0 when there is none).</summary>
    public uint MemoryChecksum()
    {
        if (Memory is not { } memory) return 0;
        uint crc = 0xFFFFFFFF;
        const int chunk = 1 << 20;
        for (long start = 0; start < memory.Length; start += chunk)
        {
            var bytes = MemoryMarshal.AsBytes(memory.ReadOnlySlice(start, (int)Math.Min(chunk, memory.Length - start)));
            int i = 0;
            for (; i + 8 <= bytes.Length; i += 8) crc = System.Numerics.BitOperations.Crc32C(crc, MemoryMarshal.Read<ulong>(bytes[i..]));
            for (; i < bytes.Length; i++) crc = System.Numerics.BitOperations.Crc32C(crc, bytes[i]);
        }
        return ~crc;
    }
}
