using System.Net;
using System.Net.WebSockets;
using Aeterna.Kestrel;
using Aeterna.Kestrel.LongLived;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Aeterna.Runtime.Tests.Support;

/// <summary>
/// Real Kestrel on a loopback port with the <see cref="RequestGate"/> in front, as AddAeterna()
/// puts it, and an app like any: a plain UseWebSockets() echo at /ws, Server-Sent Events at
/// /events (each event written in two flushed halves, so that ending one mid-event would show), a
/// request that waits until the test lets it go at /slow, a failing one at /fail (500) and /throw
/// (an exception), and / .
/// </summary>
internal sealed class GatedServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private GatedServer(WebApplication app, RequestGate gate, LongLivedConnections longLived)
    {
        _app = app;
        Gate = gate;
        LongLived = longLived;
    }

    public RequestGate Gate { get; }

    public LongLivedConnections LongLived { get; }

    public Uri Address { get; private set; } = null!;

    public Uri WebSocketAddress => new($"ws://{Address.Authority}/ws");

    /// <summary>Every message the WebSocket echo took in, in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> WebSocketMessages { get; } = new();

    /// <summary>Lets every request waiting at /slow finish.</summary>
    public void ReleaseSlow() => _release.TrySetResult();

    public static async Task<GatedServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(1));
        var app = builder.Build();
        var longLived = new LongLivedConnections();
        var gate = new RequestGate(new FrozenRequestForwarder(), longLived);
        var server = new GatedServer(app, gate, longLived);
        app.Use(gate.InvokeAsync);
        app.UseWebSockets();
        app.Map("/ws", context => EchoAsync(context, server));
        app.MapGet("/events", EventsAsync);
        app.MapGet("/slow", async context =>
        {
            await server._release.Task;
            await context.Response.WriteAsync("slow done");
        });
        app.MapGet("/fail", () => Results.StatusCode(StatusCodes.Status500InternalServerError));
        app.MapGet("/throw", string () => throw new InvalidOperationException("the app failed"));
        app.MapGet("/", () => "ok");
        await app.StartAsync();
        server.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First());
        return server;
    }

    /// <summary>Echoes each message; one that starts with "slow " after 300 ms, as an app busy with it.</summary>
    private static async Task EchoAsync(HttpContext context, GatedServer server)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var buffer = new byte[4096];
        while (true)
        {
            var received = await socket.ReceiveAsync(buffer, context.RequestAborted);
            if (received.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseAsync(received.CloseStatus ?? WebSocketCloseStatus.NormalClosure, received.CloseStatusDescription, CancellationToken.None);
                return;
            }
            string text = System.Text.Encoding.UTF8.GetString(buffer, 0, received.Count);
            server.WebSocketMessages.Enqueue(text);
            if (text.StartsWith("slow ", StringComparison.Ordinal)) await Task.Delay(300, context.RequestAborted);
            await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, context.RequestAborted);
        }
    }

    private static async Task EventsAsync(HttpContext context)
    {
        context.Response.ContentType = "text/event-stream";
        for (int i = 0; ; i++)
        {
            await context.Response.WriteAsync($"id: {i}\ndata: event {i}");
            await Task.Delay(15, context.RequestAborted);
            await context.Response.WriteAsync("\n\n");
            await Task.Delay(15, context.RequestAborted);
        }
    }

    /// <summary>Waits (up to 10 s) until <paramref name="condition"/> holds.</summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException($"not within 10 s: {what}");
            await Task.Delay(10);
        }
    }

    public async ValueTask DisposeAsync()
    {
        ReleaseSlow();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
