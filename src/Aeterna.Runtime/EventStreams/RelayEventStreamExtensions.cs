using System.Diagnostics.CodeAnalysis;
using Aeterna.EventStreams;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Aeterna;

/// <summary>Registration of streamed-response endpoints whose streams cross relays.</summary>
public static class RelayEventStreamExtensions
{
    /// <summary>
    /// Serves HTTP/1.1 requests on the listener <paramref name="listener"/> (see <see cref="RelayListeners"/>)
    /// with <typeparamref name="THandler"/>, a singleton, and hands its streams in progress (and its
    /// idle keep-alive connections) to the next generation at every relay. The runtime accepts on
    /// that listener and reads the requests itself (Kestrel does not serve it). The same listener
    /// may also carry a WebSocket handler (<see cref="RelayWebSocketExtensions.AddRelayWebSockets{THandler}"/>):
    /// Upgrade requests go to it, every other request to <typeparamref name="THandler"/>. Call with
    /// <c>AddAeterna()</c>; the listener's name is the endpoint's name in the hand-over, so keep it across versions.
    /// </summary>
    public static IServiceCollection AddRelayEventStreams<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>(this IServiceCollection services, string listener)
        where THandler : RelayEventStreamHandler
    {
        services.TryAddSingleton<THandler>();
        return HttpEndpointParts.Add(services, new HttpEndpointPart(listener, null, static sp => sp.GetRequiredService<THandler>()));
    }
}
