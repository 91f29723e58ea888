using Aeterna.Kestrel;
using Microsoft.AspNetCore.Http;
using Xunit;

namespace Aeterna.Runtime.Tests.Kestrel;

/// <summary>
/// The gate in front of ordinary requests: a freeze completes only once the requests already in
/// the app have finished, a resume serves from local state again, a pause holds new requests
/// until it ends, and a lame duck tells HTTP/1.x clients to close.
/// </summary>
public sealed class RequestGateTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly FrozenRequestForwarder _forwarder = new();

    public void Dispose() => _forwarder.Dispose();

    private static DefaultHttpContext Request()
    {
        var context = new DefaultHttpContext();
        context.Request.Protocol = "HTTP/1.1";
        return context;
    }

    [Fact]
    public async Task Freeze_waits_for_the_request_in_the_app_and_resume_serves_again()
    {
        var gate = new RequestGate(_forwarder);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inApp = gate.InvokeAsync(Request(), async _ => { entered.SetResult(); await release.Task; });
        await entered.Task.WaitAsync(Patience);

        var freeze = gate.FreezeAsync(CancellationToken.None);
        Assert.True(gate.IsFrozen);
        await Task.Delay(100);
        Assert.False(freeze.IsCompleted, "the freeze completed while a request was still in the app");

        release.SetResult();
        await inApp.WaitAsync(Patience);
        await freeze.WaitAsync(Patience);
        Assert.Equal((1, 0), gate.Counts);

        gate.Serve();
        Assert.False(gate.IsFrozen);
        int served = 0;
        await gate.InvokeAsync(Request(), _ => { served++; return Task.CompletedTask; }).WaitAsync(Patience);
        Assert.Equal(1, served);
        Assert.Equal((2, 0), gate.Counts);
    }

    [Fact]
    public async Task Freeze_with_nothing_in_flight_completes_at_once()
    {
        var gate = new RequestGate(_forwarder);
        await gate.FreezeAsync(CancellationToken.None).WaitAsync(Patience);
        Assert.True(gate.IsFrozen);
    }

    [Fact]
    public async Task Pause_holds_new_requests_until_it_ends()
    {
        var gate = new RequestGate(_forwarder);
        await gate.PauseAsync(CancellationToken.None).WaitAsync(Patience);
        int served = 0;
        var held = gate.InvokeAsync(Request(), _ => { served++; return Task.CompletedTask; });
        await Task.Delay(100);
        Assert.Equal(0, served);

        gate.Unpause();
        await held.WaitAsync(Patience);
        Assert.Equal(1, served);
    }

    [Fact]
    public async Task A_lame_duck_tells_http1_clients_to_close_and_failures_are_counted()
    {
        var gate = new RequestGate(_forwarder);
        var before = Request();
        await gate.InvokeAsync(before, c => { c.Response.StatusCode = 500; return Task.CompletedTask; }).WaitAsync(Patience);
        Assert.False(before.Response.Headers.ContainsKey("Connection"));

        gate.BeginDraining();
        Assert.True(gate.IsDraining);
        var during = Request();
        await gate.InvokeAsync(during, _ => Task.CompletedTask).WaitAsync(Patience);
        Assert.Equal("close", during.Response.Headers.Connection.ToString());
        Assert.Equal((2, 1), gate.Counts);
    }
}
