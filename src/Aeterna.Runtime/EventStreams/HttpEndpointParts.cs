using Aeterna.Connections;
using Microsoft.Extensions.DependencyInjection;

namespace Aeterna.EventStreams;

/// <summary>A WebSocket or an event-stream handler registered on a listener; the listener's endpoint is made of all of them.</summary>
internal sealed record HttpEndpointPart(string Listener, Func<IServiceProvider, RelayWebSocketHandler>? WebSocket, Func<IServiceProvider, RelayEventStreamHandler>? Stream);

/// <summary>
/// One endpoint per listener for the HTTP kinds: a WebSocket handler alone is served as before
/// (kind websocket); with an event-stream handler the listener's endpoint reads each request and
/// gives an Upgrade to the WebSocket handler, anything else to the stream handler.
/// </summary>
internal static class HttpEndpointParts
{
    public static IServiceCollection Add(IServiceCollection services, HttpEndpointPart part)
    {
        services.AddSingleton(part);
        var listener = part.Listener;
        return ConnectionEndpoint.Add(services, listener, sp => Build(sp, listener));
    }

    private static RelayConnectionHandler Build(IServiceProvider services, string listener)
    {
        var parts = services.GetServices<HttpEndpointPart>().Where(p => p.Listener == listener).ToList();
        var webSockets = parts.Where(p => p.WebSocket is not null).Select(p => p.WebSocket!(services)).Distinct().ToList();
        var streams = parts.Where(p => p.Stream is not null).Select(p => p.Stream!(services)).Distinct().ToList();
        if (webSockets.Count > 1 || streams.Count > 1)
            throw new InvalidOperationException($"listener '{listener}' has more than one {(webSockets.Count > 1 ? "WebSocket" : "event-stream")} handler: one of each at most");
        var webSocket = webSockets.SingleOrDefault()?.CreateEndpoint();
        return streams.SingleOrDefault() is { } stream ? new HttpEndpoint(webSocket, stream.CreateService()) : webSocket!;
    }
}
