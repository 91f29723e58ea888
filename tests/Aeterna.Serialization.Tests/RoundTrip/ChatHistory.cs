namespace Aeterna.Serialization.Tests.RoundTrip;

public enum Role : byte { System, User, Assistant, Tool }

/// <summary>A positional record: its init-only properties are read in place.</summary>
public partial record ChatTurn([property: RelayState] Role Role, [property: RelayState] string Text)
{
    [RelayState] public DateTimeOffset At { get; set; }
    [RelayState] public int Tokens { get; set; }
}

public partial class Session
{
    [RelayState] public string User { get; set; } = "";
    [RelayState] public List<ChatTurn> Turns { get; set; } = new();
    [RelayState] public double Temperature { get; set; } = 0.7;
}

public partial class AgentMemory
{
    [RelayState] private List<ChatTurn> _history = new();
    [RelayState] private Dictionary<string, Session> _sessions = new(StringComparer.OrdinalIgnoreCase);
    [RelayState] private RelayMemory<float>? _embeddings;

    public List<ChatTurn> History => _history;
    public Dictionary<string, Session> Sessions => _sessions;
    public RelayMemory<float>? Embeddings { get => _embeddings; set => _embeddings = value; }
}
