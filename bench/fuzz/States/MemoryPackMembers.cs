using MemoryPack;
using Aeterna.Serialization.Tests.MemoryPackMembers;

namespace Aeterna.Fuzz.States;

// MemoryPack types in MemoryPack's default mode only. Its version-tolerant reader takes each
// member's length from the data and moves by it without checking the sign, so corrupt bytes in a
// [MemoryPackable(GenerateType.VersionTolerant)] value can read outside the buffer and end the
// process (docs/benchmarks.md, "Fuzzing"): that is MemoryPack's, and the relay framing's CRCs keep
// corrupt bytes away from it. These types let the fuzzer reach everything else.

/// <summary>A default-mode MemoryPack type holding other MemoryPack types, a dictionary and a struct.</summary>
[MemoryPackable]
public partial class Member
{
    public string Name { get; set; } = "";
    public int Age { get; set; }
    public Mood Mood { get; set; }
    public List<Badge> Badges { get; set; } = [];
    public Badge? Favourite { get; set; }
    public Dictionary<string, double> Scores { get; set; } = [];
    public Position Home { get; set; }
    public int[]? Numbers { get; set; }
}

/// <summary>A small default-mode MemoryPack type inside another.</summary>
[MemoryPackable]
public partial class Badge
{
    public string Label { get; set; } = "";
    public int Weight { get; set; }
}

/// <summary>Relay state holding default-mode MemoryPack types: alone, in collections, nullable, as a union, beside ordinary members.</summary>
public partial class TeamState
{
    [RelayState] public Member? Owner { get; set; }
    [RelayState] public List<Member> Team { get; set; } = [];
    [RelayState] public Dictionary<string, Badge> Badges { get; set; } = [];
    [RelayState] public Position? Where { get; set; }
    [RelayState] public IShape? Shape { get; set; }
    [RelayState] public int Turns { get; set; }
    [RelayState] public string Note { get; set; } = "";
}
