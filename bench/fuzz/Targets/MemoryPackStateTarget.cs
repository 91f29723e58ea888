using Aeterna.Fuzz.States;

namespace Aeterna.Fuzz.Targets;

/// <summary>
/// Relay state with MemoryPack members: the generated reader hands each member's bytes to
/// MemoryPack, and whatever MemoryPack makes of corrupt ones must surface as a RelayFormatException.
/// Default-mode MemoryPack types only (see States/MemoryPackMembers.cs for why).
/// </summary>
internal sealed class MemoryPackStateTarget : FuzzTarget
{
    public override string Name => "state-memorypack";

    public override string Decoder => "RelaySerializer.Deserialize with MemoryPack members";

    public override void Decode(ReadOnlySpan<byte> input) => RelaySerializer.Deserialize<TeamState>(input);

    public override bool IsRefusal(Exception error) => error is RelayFormatException;

    public override IEnumerable<byte[]> Seeds()
    {
        yield return RelaySerializer.Serialize(StateSamples.TeamState());
        yield return RelaySerializer.Serialize(StateSamples.TeamState(), RelayStringEncoding.Utf16);
        yield return RelaySerializer.Serialize(new TeamState());
    }
}
