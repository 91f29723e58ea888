using Aeterna.Fuzz.Targets;

namespace Aeterna.Fuzz;

/// <summary>Every target, in the order bench/run fuzz runs them.</summary>
internal static class FuzzTargets
{
    public static readonly IReadOnlyList<FuzzTarget> All =
    [
        new FrameHeaderTarget(),
        new MessagesTarget(),
        new FrameStreamTarget(),
        new ConnectionsTarget(),
        new WebSocketTarget(),
        new HttpStreamTarget(),
        new StateTarget(),
        new MemoryPackStateTarget(),
    ];

    public static FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}
