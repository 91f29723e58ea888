using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using MemoryPack;

namespace Aeterna.Benchmarks;

/// <summary>
/// Serialize and deserialize the same object graph with the relay serializer, MemoryPack (its
/// default mode with UTF-8 strings, with UTF-16 strings, and its version-tolerant mode) and
/// System.Text.Json's source generator.
/// </summary>
[MemoryDiagnoser]
public class ChatHistoryBenchmarks
{
    private readonly ChatHistory _value = ChatHistory.Create();
    private TolerantChatHistory _tolerant = new();
    private byte[] _relay = [];
    private byte[] _relayUtf16 = [];
    private byte[] _json = [];
    private byte[] _memoryPack = [];
    private byte[] _memoryPackUtf16 = [];
    private byte[] _memoryPackTolerant = [];

    [GlobalSetup]
    public void Setup()
    {
        _tolerant = TolerantChatHistory.From(_value);
        _relay = RelaySerializer.Serialize(_value);
        _relayUtf16 = RelaySerializer.Serialize(_value, RelayStringEncoding.Utf16);
        _json = JsonSerializer.SerializeToUtf8Bytes(_value, BenchmarkJsonContext.Default.ChatHistory);
        _memoryPack = MemoryPackSerializer.Serialize(_value);
        _memoryPackUtf16 = MemoryPackSerializer.Serialize(_value, MemoryPackSerializerOptions.Utf16);
        _memoryPackTolerant = MemoryPackSerializer.Serialize(_tolerant);
        Console.WriteLine($"// bytes: relay {_relay.Length} (UTF-16 {_relayUtf16.Length}), MemoryPack {_memoryPack.Length} (UTF-16 {_memoryPackUtf16.Length}, version-tolerant {_memoryPackTolerant.Length}), JSON {_json.Length}");
    }

    [Benchmark] public byte[] Relay_serialize() => RelaySerializer.Serialize(_value);
    [Benchmark] public ChatHistory Relay_deserialize() => RelaySerializer.Deserialize<ChatHistory>(_relay);
    [Benchmark] public byte[] Relay_utf16_serialize() => RelaySerializer.Serialize(_value, RelayStringEncoding.Utf16);
    [Benchmark] public ChatHistory Relay_utf16_deserialize() => RelaySerializer.Deserialize<ChatHistory>(_relayUtf16);
    [Benchmark] public byte[] MemoryPack_serialize() => MemoryPackSerializer.Serialize(_value);
    [Benchmark] public ChatHistory? MemoryPack_deserialize() => MemoryPackSerializer.Deserialize<ChatHistory>(_memoryPack);
    [Benchmark] public byte[] MemoryPack_utf16_serialize() => MemoryPackSerializer.Serialize(_value, MemoryPackSerializerOptions.Utf16);
    [Benchmark] public ChatHistory? MemoryPack_utf16_deserialize() => MemoryPackSerializer.Deserialize<ChatHistory>(_memoryPackUtf16);
    [Benchmark] public byte[] MemoryPack_tolerant_serialize() => MemoryPackSerializer.Serialize(_tolerant);
    [Benchmark] public TolerantChatHistory? MemoryPack_tolerant_deserialize() => MemoryPackSerializer.Deserialize<TolerantChatHistory>(_memoryPackTolerant);
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
