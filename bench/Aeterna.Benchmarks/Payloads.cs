using System.Text.Json.Serialization;
using MemoryPack;

namespace Aeterna.Benchmarks;

// The same classes are MemoryPack types too, so both serializers read and write the same objects.
[MemoryPackable]
public partial class ChatTurn
{
    [RelayState] public string Role { get; set; } = "";
    [RelayState] public string Text { get; set; } = "";
    [RelayState] public DateTimeOffset At { get; set; }
    [RelayState] public int Tokens { get; set; }
}

/// <summary>An agent's conversation: about 50 KiB of turns.</summary>
[MemoryPackable]
public partial class ChatHistory
{
    [RelayState] public List<ChatTurn> Turns { get; set; } = new();

    public static ChatHistory Create()
    {
        var random = new Random(42);
        var history = new ChatHistory();
        var start = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        int bytes = 0;
        for (int i = 0; bytes < 50 * 1024; i++)
        {
            string text = string.Join(' ', Enumerable.Range(0, random.Next(10, 60)).Select(_ => Words[random.Next(Words.Length)]));
            history.Turns.Add(new ChatTurn { Role = i % 2 == 0 ? "user" : "assistant", Text = text, At = start.AddSeconds(i * 7), Tokens = text.Length / 4 });
            bytes += text.Length + 20;
        }
        return history;
    }

    private static readonly string[] Words = ["the", "model", "answer", "token", "relay", "state", "generation", "handover", "socket", "memory", "café", "zero-downtime"];
}

/// <summary>The chat history as MemoryPack's version-tolerant types (each member's length precedes it).</summary>
[MemoryPackable(GenerateType.VersionTolerant)]
public partial class TolerantChatTurn
{
    [MemoryPackOrder(0)] public string Role { get; set; } = "";
    [MemoryPackOrder(1)] public string Text { get; set; } = "";
    [MemoryPackOrder(2)] public DateTimeOffset At { get; set; }
    [MemoryPackOrder(3)] public int Tokens { get; set; }
}

[MemoryPackable(GenerateType.VersionTolerant)]
public partial class TolerantChatHistory
{
    [MemoryPackOrder(0)] public List<TolerantChatTurn> Turns { get; set; } = new();

    public static TolerantChatHistory From(ChatHistory history) => new()
    {
        Turns = history.Turns.Select(t => new TolerantChatTurn { Role = t.Role, Text = t.Text, At = t.At, Tokens = t.Tokens }).ToList(),
    };
}

/// <summary>A cache of 10,000 entries.</summary>
public partial class ScoreCache
{
    [RelayState] public Dictionary<string, long> Scores { get; set; } = new();

    public static ScoreCache Create() => new() { Scores = Enumerable.Range(0, 10_000).ToDictionary(i => "user-" + i.ToString("x8"), i => (long)i * 7919) };
}

/// <summary>Embeddings as a plain array (RelayMemory is not copied at all during a relay).</summary>
public partial class Vectors
{
    [RelayState] public float[] Data { get; set; } = [];
}

[JsonSerializable(typeof(ChatHistory))]
[JsonSerializable(typeof(ScoreCache))]
public partial class BenchmarkJsonContext : JsonSerializerContext;
