using Aeterna.Fuzz.States;
using Aeterna.Serialization.Tests.RoundTrip;

namespace Aeterna.Fuzz.Targets;

/// <summary>
/// The relay state reader (RelayReader) through generated readers: the first input byte picks the
/// state type (AllTypes: every member kind once; AgentMemory: private fields, a dictionary with a
/// comparer, memory), the rest is its serialized state. Skipping unknown members is reached too,
/// because the readers skip whatever key they do not know.
/// </summary>
internal sealed class StateTarget : FuzzTarget
{
    public override string Name => "state";

    public override string Decoder => "RelaySerializer.Deserialize (generated readers)";

    // An object in a list can be as small as one byte of input and is a few dozen bytes in memory,
    // and a list doubles; 512 per byte is far above that and far below a length taken on trust.
    public override long AllocationPerByte => 512;

    public override void Decode(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty) return;
        var data = input[1..];
        switch (input[0] % 2)
        {
            case 0:
                RelaySerializer.Deserialize<AllTypes>(data)?.Embeddings?.Dispose();
                break;
            default:
                RelaySerializer.Deserialize<AgentMemory>(data)?.Embeddings?.Dispose();
                break;
        }
    }

    public override bool IsRefusal(Exception error) => error is RelayFormatException;

    public override IEnumerable<byte[]> Seeds()
    {
        foreach (var strings in new[] { RelayStringEncoding.Utf8, RelayStringEncoding.Utf16 })
        {
            yield return [0, .. RelaySerializer.Serialize(StateSamples.AllTypes(), strings)];
            yield return [0, .. RelaySerializer.Serialize(new AllTypes(), strings)];
            yield return [1, .. RelaySerializer.Serialize(StateSamples.AgentMemory(), strings)];
        }
    }
}
