using System.Diagnostics.CodeAnalysis;
using Aeterna.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

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
    /// listener's name is the endpoint's name in the hand-over, so keep it across versions.
    /// </summary>
    public static IServiceCollection AddRelayWebSockets<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>(this IServiceCollection services, string listener)
        where THandler : RelayWebSocketHandler
    {
        ArgumentException.ThrowIfNullOrEmpty(listener);
        if (System.Text.Encoding.UTF8.GetByteCount(listener) > Protocol.ConnectionRecord.MaxEndpointBytes)
            throw new ArgumentException($"an endpoint name is at most {Protocol.ConnectionRecord.MaxEndpointBytes} bytes of UTF-8", nameof(listener));
        services.TryAddSingleton<THandler>();
        services.AddSingleton(new ConnectionEndpoint(listener, static sp => sp.GetRequiredService<THandler>().CreateEndpoint()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ConnectionListeners>());
        return services;
    }
}
