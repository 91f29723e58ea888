using Aeterna.Protocol;
using Aeterna.Relay;
using Aeterna.Runtime.Tests.Support;
using Aeterna.Serialization;
using Aeterna.State;

namespace Aeterna.Runtime.Tests.State;

/// <summary>
/// The dress rehearsal a generation runs before READY: real participants on scratch state, real
/// socket pairs, FREEZE to RESUME. It must never touch the live state, and it must surface a state
/// type that cannot round-trip, the way the real hand-over would fail.
/// </summary>
public sealed class RelayRehearsalTests
{
    private static readonly WelcomeMessage Welcome = new() { Version = 1, Generation = 2, MaxStateSize = 1 << 20, TimeoutMs = 10_000 };

    [Fact]
    public async Task Rehearsal_runs_the_whole_hand_over_and_leaves_the_live_state_alone()
    {
        var live = new ChatState { History = ["kept"], Embeddings = RelayMemory<float>.Allocate(4, "live") };
        live.Embeddings[0] = 7f;
        var states = new RelayStateSet();
        states.Add("Chat", live, () => new ChatState());

        await RelayRehearsal.RunAsync(states, new NoServingGate(), Welcome, default).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(["kept"], live.History);
        Assert.Equal(7f, live.Embeddings[0]);
        live.Embeddings[1] = 1f; // still writable: the rehearsal froze scratch state, not this
    }

    [Fact]
    public async Task A_state_type_that_cannot_read_what_it_wrote_fails_the_rehearsal_with_its_reason()
    {
        var states = new RelayStateSet();
        states.Add("Broken", new Lopsided(), () => new Lopsided());

        var e = await Assert.ThrowsAsync<RelayFormatException>(() => RelayRehearsal.RunAsync(states, new NoServingGate(), Welcome, default).WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("Broken", e.Message);
        Assert.Contains("left unread", e.Message);
    }

    /// <summary>Writes two values and reads one: the kind of bug the rehearsal exists to catch before a relay.</summary>
    private sealed class Lopsided : IRelayState
    {
        public void WriteState(ref RelayWriter writer)
        {
            writer.WriteVarUInt(1);
            writer.WriteVarUInt(2);
        }

        public void ReadState(ref RelayReader reader) => reader.ReadVarUInt();
    }
}
