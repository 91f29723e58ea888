using Aeterna.Serialization;

namespace Aeterna.Runtime.Tests.Support;

/// <summary>A hand-written relay state (what the generator writes for you): a history and an embedding buffer.</summary>
internal sealed class ChatState : IRelayState
{
    public List<string> History { get; set; } = [];

    public RelayMemory<float>? Embeddings { get; set; }

    public void WriteState(ref RelayWriter writer)
    {
        writer.WriteVarUInt((ulong)History.Count);
        foreach (var turn in History) writer.WriteString(turn);
        writer.WriteMemory(Embeddings);
    }

    public void ReadState(ref RelayReader reader)
    {
        int count = reader.ReadLength("the history");
        var history = new List<string>(count);
        for (int i = 0; i < count; i++) history.Add(reader.ReadString() ?? "");
        History = history;
        Embeddings = reader.ReadMemory<float>();
    }
}
