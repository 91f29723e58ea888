using System.Diagnostics;

namespace Aeterna.Benchmarks;

/// <summary>
/// The chat history benchmarks outside BenchmarkDotNet: one of them in a loop for a profiler, or all
/// of them interleaved round by round, so that load from other processes hits each alike.
/// </summary>
internal static class ProfileLoop
{
    private static List<(string Name, Action Call)> Methods(ChatHistoryBenchmarks b) =>
    [
        (nameof(b.Relay_serialize), () => b.Relay_serialize()),
        (nameof(b.Relay_deserialize), () => b.Relay_deserialize()),
        (nameof(b.Relay_utf16_serialize), () => b.Relay_utf16_serialize()),
        (nameof(b.Relay_utf16_deserialize), () => b.Relay_utf16_deserialize()),
        (nameof(b.MemoryPack_serialize), () => b.MemoryPack_serialize()),
        (nameof(b.MemoryPack_deserialize), () => b.MemoryPack_deserialize()),
        (nameof(b.MemoryPack_utf16_serialize), () => b.MemoryPack_utf16_serialize()),
        (nameof(b.MemoryPack_utf16_deserialize), () => b.MemoryPack_utf16_deserialize()),
        (nameof(b.MemoryPack_tolerant_serialize), () => b.MemoryPack_tolerant_serialize()),
        (nameof(b.MemoryPack_tolerant_deserialize), () => b.MemoryPack_tolerant_deserialize()),
    ];

    public static void Run(string method, TimeSpan duration)
    {
        var benchmarks = new ChatHistoryBenchmarks();
        benchmarks.Setup();
        var call = Methods(benchmarks).FirstOrDefault(m => m.Name == method).Call
            ?? throw new ArgumentException($"no benchmark {method}; one of: {string.Join(", ", Methods(benchmarks).Select(m => m.Name))}");
        var clock = Stopwatch.StartNew();
        long calls = 0;
        while (clock.Elapsed < duration)
        {
            for (int i = 0; i < 1000; i++) call();
            calls += 1000;
        }
        Console.WriteLine($"{method}: {clock.Elapsed.TotalMicroseconds / calls:F2} µs per call ({calls} calls)");
    }

    public static void Compare(TimeSpan duration)
    {
        var benchmarks = new ChatHistoryBenchmarks();
        benchmarks.Setup();
        var methods = Methods(benchmarks);
        var samples = methods.ToDictionary(m => m.Name, _ => new List<double>());
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            foreach (var (name, call) in methods)
            {
                long start = Stopwatch.GetTimestamp();
                for (int i = 0; i < 100; i++) call();
                samples[name].Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds / 100);
            }
        }
        foreach (var (name, values) in samples)
        {
            values.Sort();
            Console.WriteLine($"{name,-34} median {values[values.Count / 2],8:F2} µs   p10 {values[values.Count / 10],8:F2} µs   ({values.Count} rounds)");
        }
    }
}
