using Aeterna.Protocol;
using Aeterna.Relay;
using Aeterna.Runtime.Tests.Support;
using Aeterna.State;

namespace Aeterna.Runtime.Tests.State;

/// <summary>State from one generation's objects to another's over a real socket pair: bytes by stream or memfd, RelayMemory by fd.</summary>
public sealed class StateTransferTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData("pipe")]
    [InlineData("shm")]
    [InlineData("auto")]
    public async Task History_and_embeddings_cross_intact(string mechanism)
    {
        using var pair = new ChannelPair();
        var (old, oldSet) = State(turns: 2000);
        old.Embeddings = RelayMemory<float>.Allocate(100_000, "embeddings");
        for (int i = 0; i < 100_000; i++) old.Embeddings[i] = i * 0.5f;
        var (next, nextSet) = State(turns: 0);

        var export = StateExport.ExportAsync(pair.Left, oldSet, new StateBuffer(), mechanism, FrameChannel.DefaultMaxPayload, default);
        var import = await StateImport.ImportAsync(pair.Right, nextSet, long.MaxValue, validateFirst: false, default).WaitAsync(Timeout);
        var exported = await export;

        Assert.Equal(old.History, next.History);
        Assert.Equal(exported.StateBytes, import.StateBytes);
        Assert.Single(import.Regions);
        Assert.Equal(mechanism == "auto" ? "pipe" : mechanism, import.Mechanism);
        Assert.Equal(49_999.5f, next.Embeddings![99_999]);

        // Zero copy: the new generation maps the very same pages.
        next.Embeddings[7] = 42f;
        Assert.Equal(42f, old.Embeddings[7]);
    }

    [Fact]
    public async Task Big_copied_state_goes_through_a_sealed_memfd_with_auto()
    {
        using var pair = new ChannelPair();
        var (old, oldSet) = State(turns: 40_000); // about 2 MB of strings
        var (next, nextSet) = State(turns: 0);
        var export = StateExport.ExportAsync(pair.Left, oldSet, new StateBuffer(), "auto", FrameChannel.DefaultMaxPayload, default);
        var import = await StateImport.ImportAsync(pair.Right, nextSet, long.MaxValue, validateFirst: false, default).WaitAsync(Timeout);
        Assert.Equal("shm", (await export).Mechanism);
        Assert.Equal("shm", import.Mechanism);
        Assert.Equal(old.History, next.History);
    }

    [Fact]
    public async Task A_section_the_new_version_does_not_know_is_skipped_and_reported()
    {
        using var pair = new ChannelPair();
        var (_, oldSet) = State(turns: 3);
        oldSet.Add("RetiredState", new ChatState { History = ["gone"] }, () => new ChatState());
        var (next, nextSet) = State(turns: 0);
        _ = StateExport.ExportAsync(pair.Left, oldSet, new StateBuffer(), "pipe", FrameChannel.DefaultMaxPayload, default);
        var import = await StateImport.ImportAsync(pair.Right, nextSet, long.MaxValue, validateFirst: false, default).WaitAsync(Timeout);
        Assert.Equal(["RetiredState"], import.SkippedSections);
        Assert.Equal(3, next.History.Count);
    }

    [Fact]
    public async Task State_over_the_configured_maximum_is_refused_before_it_is_received()
    {
        using var pair = new ChannelPair();
        var (_, oldSet) = State(turns: 1000);
        var (next, nextSet) = State(turns: 5);
        _ = StateExport.ExportAsync(pair.Left, oldSet, new StateBuffer(), "pipe", FrameChannel.DefaultMaxPayload, default);
        var e = await Assert.ThrowsAsync<ProtocolException>(() => StateImport.ImportAsync(pair.Right, nextSet, maxStateBytes: 1000, validateFirst: false, default).WaitAsync(Timeout));
        Assert.Equal(ProtocolError.TooLarge, e.Error);
        Assert.Equal(5, next.History.Count); // untouched
    }

    [Fact]
    public async Task An_exporter_that_dies_mid_transfer_leaves_the_importer_untouched()
    {
        using var pair = new ChannelPair();
        var (_, oldSet) = State(turns: 50_000);
        var (next, nextSet) = State(turns: 5);
        var buffer = new StateBuffer();
        var sections = StateExport.Serialize(oldSet, buffer, regions: null);
        var import = StateImport.ImportAsync(pair.Right, nextSet, long.MaxValue, validateFirst: false, default);
        // The exporter sends StateBegin and one chunk of the bytes, then its process is gone.
        await pair.Left.SendAsync(FrameType.StateBegin, new StateBeginMessage { Mechanism = "pipe", Sections = [.. sections], Regions = [], StateBytes = buffer.Written }, ProtocolJson.Default.StateBeginMessage);
        Assert.True(buffer.Written / 3 < StateBuffer.SegmentSize, "the test cuts the stream within the first segment");
        await pair.Left.SendAsync(FrameType.StateChunk, buffer.Segments.First()[..(int)(buffer.Written / 3)]);
        pair.Left.Dispose();
        var e = await Assert.ThrowsAsync<ProtocolException>(() => import.WaitAsync(Timeout));
        Assert.Equal(ProtocolError.Closed, e.Error);
        Assert.Equal(5, next.History.Count);
    }

    [Fact]
    public async Task Bytes_that_do_not_parse_as_the_state_are_a_format_error_and_change_nothing_when_validating()
    {
        using var pair = new ChannelPair();
        var (next, nextSet) = State(turns: 5);
        var garbage = new byte[] { 0x05, 0x03, (byte)'a' }; // five turns announced, one half-written
        await pair.Left.SendAsync(FrameType.StateBegin, new StateBeginMessage { Mechanism = "pipe", Sections = [new StateSection(nameof(ChatState), garbage.Length)], Regions = [], StateBytes = garbage.Length }, ProtocolJson.Default.StateBeginMessage);
        await pair.Left.SendAsync(FrameType.StateChunk, garbage);
        await pair.Left.SendAsync(FrameType.StateEnd, new StateEndMessage(garbage.Length, 0), ProtocolJson.Default.StateEndMessage);
        var e = await Assert.ThrowsAsync<Aeterna.RelayFormatException>(() => StateImport.ImportAsync(pair.Right, nextSet, long.MaxValue, validateFirst: true, default).WaitAsync(Timeout));
        Assert.Contains(nameof(ChatState), e.Message);
        Assert.Equal(5, next.History.Count);
    }

    private static (ChatState State, RelayStateSet Set) State(int turns)
    {
        var state = new ChatState { History = [.. Enumerable.Range(0, turns).Select(i => $"turn {i}: the quick brown fox jumps over the lazy dog")] };
        var set = new RelayStateSet();
        set.Add(nameof(ChatState), state, () => new ChatState());
        return (state, set);
    }
}
