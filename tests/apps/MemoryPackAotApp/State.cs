using Aeterna;
using MemoryPack;

namespace MemoryPackAotApp;

/// <summary>MemoryPack's default mode, holding version-tolerant and unmanaged MemoryPack types.</summary>
[MemoryPackable]
public partial class Profile
{
    public string Name { get; set; } = "";
    public List<Tag> Tags { get; set; } = [];
    public Dictionary<string, int> Scores { get; set; } = [];
    public Position Home { get; set; }
}

[MemoryPackable(GenerateType.VersionTolerant)]
public partial class Tag
{
    [MemoryPackOrder(0)] public string Label { get; set; } = "";
    [MemoryPackOrder(1)] public Mood Mood { get; set; }
}

public enum Mood : byte { Calm, Curious }

[MemoryPackable]
public partial struct Position
{
    public double X;
    public double Y;
}

[MemoryPackable]
[MemoryPackUnion(0, typeof(Circle))]
[MemoryPackUnion(1, typeof(Square))]
public partial interface IShape;

[MemoryPackable] public partial class Circle : IShape { public double Radius { get; set; } }

[MemoryPackable] public partial class Square : IShape { public double Side { get; set; } }

/// <summary>The relay state: MemoryPack types as they are, beside ordinary members.</summary>
public partial class AgentState
{
    [RelayState] public Profile Owner { get; set; } = new();
    [RelayState] public List<Profile> Team { get; set; } = [];
    [RelayState] public Position? Where { get; set; }
    [RelayState] public IShape? Shape { get; set; }
    [RelayState] public List<string> History { get; set; } = [];
    [RelayState] public int Turns { get; set; }

    public static AgentState Sample() => new()
    {
        Owner = new Profile
        {
            Name = "Ada", Tags = [new Tag { Label = "math", Mood = Mood.Curious }],
            Scores = new() { ["chess"] = 3 }, Home = new Position { X = 51.5, Y = -0.1 },
        },
        Team = [new Profile { Name = "Grace" }],
        Where = new Position { X = 1, Y = 2 },
        Shape = new Circle { Radius = 2.5 },
        History = ["hello", "café ☕"],
        Turns = 42,
    };

    public string Describe() =>
        $"owner={Owner.Name} tags={string.Join(",", Owner.Tags.Select(t => $"{t.Label}/{t.Mood}"))} scores={string.Join(",", Owner.Scores.Select(s => $"{s.Key}:{s.Value}"))} " +
        $"home={Owner.Home.X}/{Owner.Home.Y} team={string.Join(",", Team.Select(p => p.Name))} where={Where?.X}/{Where?.Y} " +
        $"shape={Shape switch { Circle c => $"circle {c.Radius}", Square s => $"square {s.Side}", _ => "none" }} history={string.Join("|", History)} turns={Turns}";
}
