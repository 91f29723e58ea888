using System.Diagnostics.CodeAnalysis;
using Aeterna.EventStreams;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Aeterna;

/// <summary>Registration of WebSocket endpoints whose connections cross relays.</summary>
public static class RelayWebSocketExtensions
{
    /// <summary>
    /// Serves WebSocket clients on the listener <paramref name="listener"/> (see <see cref="RelayListeners"/>)
    /// with <typeparamref name="THandler"/>, a singleton, and hands its open connections to the next
    /// generation at every relay. The runtime accepts on that listener and answers the handshake
    /// itself (Kestrel does not serve it); any request path is accepted and given to
    /// <see cref="RelayWebSocketHandler{TSession}.OnOpenAsync"/>. Call with <c>AddAeterna()</c>; the
    /// listener's name is the endpoint's name in the hand-over, so keep it across versions. The same
    /// listener may also carry an event-stream handler (<see cref="RelayEventStreamExtensions.AddRelayEventStreams{THandler}"/>).
    /// </summary>
    public static IServiceCollection AddRelayWebSockets<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>(this IServiceCollection services, string listener)
        where THandler : RelayWebSocketHandler
    {
        services.TryAddSingleton<THandler>();
        return HttpEndpointParts.Add(services, new HttpEndpointPart(listener, static sp => sp.GetRequiredService<THandler>(), null));
    }
}
