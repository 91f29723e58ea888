using System.Net;
using Aeterna.Runtime.Tests.Support;

namespace Aeterna.Runtime.Tests.Kestrel;

/// <summary>
/// The gate in front of ordinary requests, on real Kestrel and a real client over loopback: a
/// freeze with nothing in the app completes at once and a resume serves from local state again,
/// a checkpoint pause holds new requests only until it ends, a lame duck tells HTTP/1.x clients
/// to close and refuses new WebSockets, and what the app served and failed is counted.
/// </summary>
public sealed class RequestGateTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_freeze_with_nothing_in_the_app_completes_at_once_and_a_resume_serves_again()
    {
        await using var server = await GatedServer.StartAsync();
        using var http = new HttpClient { BaseAddress = server.Address };
        Assert.Equal("ok", await http.GetStringAsync("/").WaitAsync(Guard));

        await server.Gate.FreezeAsync(default).WaitAsync(Guard);
        Assert.True(server.Gate.IsFrozen);
        server.Gate.Serve();
        Assert.False(server.Gate.IsFrozen);

        Assert.Equal("ok", await http.GetStringAsync("/").WaitAsync(Guard));
        Assert.Equal((2, 0), server.Gate.Counts);
    }

    [Fact]
    public async Task A_pause_holds_a_new_request_until_it_ends_and_then_the_app_serves_it()
    {
        await using var server = await GatedServer.StartAsync();
        using var http = new HttpClient { BaseAddress = server.Address };
        await server.Gate.PauseAsync(default).WaitAsync(Guard);

        var held = http.GetStringAsync("/");
        await Task.Delay(200); // time for the request to reach the gate: nothing shows it waiting there
        Assert.False(held.IsCompleted, "a request entered the app during the pause");
        Assert.Equal(0, server.Gate.Counts.Served);

        server.Gate.Unpause();
        Assert.Equal("ok", await held.WaitAsync(Guard));
        Assert.Equal((1, 0), server.Gate.Counts);
    }

    [Fact]
    public async Task A_lame_duck_tells_http1_clients_to_close_and_refuses_a_new_WebSocket()
    {
        await using var server = await GatedServer.StartAsync();
        using var http = new HttpClient { BaseAddress = server.Address };
        using (var before = await http.GetAsync("/").WaitAsync(Guard))
            Assert.NotEqual(true, before.Headers.ConnectionClose);

        server.Gate.BeginDraining();
        Assert.True(server.Gate.IsDraining);
        using (var during = await http.GetAsync("/").WaitAsync(Guard))
        {
            Assert.Equal(HttpStatusCode.OK, during.StatusCode);
            Assert.True(during.Headers.ConnectionClose, "a lame duck's response did not say Connection: close");
        }

        using var socket = new System.Net.WebSockets.ClientWebSocket();
        var refused = await Assert.ThrowsAsync<System.Net.WebSockets.WebSocketException>(
            () => socket.ConnectAsync(server.WebSocketAddress, CancellationToken.None).WaitAsync(Guard));
        Assert.Contains("503", refused.Message);
    }

    [Fact]
    public async Task Failures_are_counted_as_5xx_responses_and_exceptions()
    {
        await using var server = await GatedServer.StartAsync();
        using var http = new HttpClient { BaseAddress = server.Address };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/").WaitAsync(Guard)).StatusCode);
        Assert.Equal(HttpStatusCode.InternalServerError, (await http.GetAsync("/fail").WaitAsync(Guard)).StatusCode);
        Assert.Equal(HttpStatusCode.InternalServerError, (await http.GetAsync("/throw").WaitAsync(Guard)).StatusCode);

        Assert.Equal((3, 2), server.Gate.Counts);
        Assert.Equal(0, server.Gate.InFlight);
    }
}
