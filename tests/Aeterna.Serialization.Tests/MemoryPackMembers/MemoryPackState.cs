using MemoryPack;

namespace Aeterna.Serialization.Tests.MemoryPackMembers;

public enum Mood : byte { Calm, Curious, Busy }

/// <summary>A MemoryPack type in MemoryPack's default mode (members by position), holding other MemoryPack types.</summary>
[MemoryPackable]
public partial class Profile
{
    public string Name { get; set; } = "";
    public int Age { get; set; }
    public Mood Mood { get; set; }
    public List<Tag> Tags { get; set; } = [];
    public Tag? Favourite { get; set; }
    public Dictionary<string, double> Scores { get; set; } = [];
    public Position Home { get; set; }
    [MemoryPackIgnore] public string Cache { get; set; } = "not relayed";
}

/// <summary>Version-tolerant: members by [MemoryPackOrder], each with its length.</summary>
[MemoryPackable(GenerateType.VersionTolerant)]
public partial class Tag
{
    [MemoryPackOrder(0)] public string Label { get; set; } = "";
    [MemoryPackOrder(1)] public int Weight { get; set; }
}

/// <summary>An unmanaged struct: MemoryPack writes its bytes.</summary>
[MemoryPackable]
public partial struct Position
{
    public double X;
    public double Y;
}

/// <summary>A union: MemoryPack writes a tag, then the case.</summary>
[MemoryPackable]
[MemoryPackUnion(0, typeof(Circle))]
[MemoryPackUnion(1, typeof(Square))]
public partial interface IShape;

[MemoryPackable]
public partial class Circle : IShape
{
    public double Radius { get; set; }
}

[MemoryPackable]
public partial class Square : IShape
{
    public double Side { get; set; }
}

/// <summary>Relay state holding MemoryPack types as they are: alone, in collections, nullable, beside ordinary members.</summary>
public partial class AgentWithProfiles
{
    [RelayState] public Profile? Owner { get; set; }
    [RelayState] public List<Profile> Team { get; set; } = [];
    [RelayState] public Dictionary<string, Tag> Tags { get; set; } = [];
    [RelayState] public Position? Where { get; set; }
    [RelayState] public IShape? Shape { get; set; }
    [RelayState] public int Turns { get; set; }
    [RelayState] public string Note { get; set; } = "";
}
