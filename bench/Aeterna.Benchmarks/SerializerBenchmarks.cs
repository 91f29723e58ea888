using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;

namespace Aeterna.Benchmarks;

/// <summary>Serialize and deserialize the same object graph with the relay serializer and with System.Text.Json's source generator.</summary>
[MemoryDiagnoser]
public class ChatHistoryBenchmarks
{
    private readonly ChatHistory _value = ChatHistory.Create();
    private byte[] _relay = [];
    private byte[] _json = [];

    [GlobalSetup]
    public void Setup()
    {
        _relay = RelaySerializer.Serialize(_value);
        _json = JsonSerializer.SerializeToUtf8Bytes(_value, BenchmarkJsonContext.Default.ChatHistory);
    }

    [Benchmark] public byte[] Relay_serialize() => RelaySerializer.Serialize(_value);
    [Benchmark] public ChatHistory Relay_deserialize() => RelaySerializer.Deserialize<ChatHistory>(_relay);
    [Benchmark(Baseline = true)] public byte[] Json_serialize() => JsonSerializer.SerializeToUtf8Bytes(_value, BenchmarkJsonContext.Default.ChatHistory);
    [Benchmark] public ChatHistory? Json_deserialize() => JsonSerializer.Deserialize(_json, BenchmarkJsonContext.Default.ChatHistory);
}

[MemoryDiagnoser]
public class DictionaryBenchmarks
{
    private readonly ScoreCache _value = ScoreCache.Create();
    private byte[] _relay = [];
    private byte[] _json = [];

    [GlobalSetup]
    public void Setup()
    {
        _relay = RelaySerializer.Serialize(_value);
        _json = JsonSerializer.SerializeToUtf8Bytes(_value, BenchmarkJsonContext.Default.ScoreCache);
    }

    [Benchmark] public byte[] Relay_serialize() => RelaySerializer.Serialize(_value);
    [Benchmark] public ScoreCache Relay_deserialize() => RelaySerializer.Deserialize<ScoreCache>(_relay);
    [Benchmark(Baseline = true)] public byte[] Json_serialize() => JsonSerializer.SerializeToUtf8Bytes(_value, BenchmarkJsonContext.Default.ScoreCache);
    [Benchmark] public ScoreCache? Json_deserialize() => JsonSerializer.Deserialize(_json, BenchmarkJsonContext.Default.ScoreCache);
}

/// <summary>A 16 MiB float array against memcpy of the same bytes into a buffer that already exists.</summary>
[MemoryDiagnoser]
public class UnmanagedArrayBenchmarks
{
    private const int Floats = 4 * 1024 * 1024;
    private readonly Vectors _value = new() { Data = Enumerable.Range(0, Floats).Select(i => i * 0.5f).ToArray() };
    private readonly ArrayBufferWriter<byte> _output = new(Floats * 4 + 1024);
    private readonly byte[] _copy = new byte[Floats * 4];
    private byte[] _relay = [];

    [GlobalSetup]
    public void Setup() => _relay = RelaySerializer.Serialize(_value);

    [Benchmark(Baseline = true)]
    public void Memcpy() => System.Runtime.InteropServices.MemoryMarshal.AsBytes(_value.Data.AsSpan()).CopyTo(_copy);

    [Benchmark]
    public int Relay_serialize_into_reused_buffer()
    {
        _output.ResetWrittenCount();
        RelaySerializer.Serialize(_output, _value);
        return _output.WrittenCount;
    }

    [Benchmark]
    public Vectors Relay_deserialize() => RelaySerializer.Deserialize<Vectors>(_relay);
}
