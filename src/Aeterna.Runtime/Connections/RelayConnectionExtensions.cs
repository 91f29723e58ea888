using System.Diagnostics.CodeAnalysis;
using Aeterna.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Aeterna;

/// <summary>Registration of handed-connection endpoints.</summary>
public static class RelayConnectionExtensions
{
    /// <summary>
    /// Serves the listener <paramref name="listener"/> (see <see cref="RelayListeners"/>) with
    /// <typeparamref name="THandler"/>, a singleton, and hands its open connections to the next
    /// generation at every relay (docs/protocol.md, "Connections"). The runtime accepts on that
    /// listener itself (Kestrel does not serve it). Call with <c>AddAeterna()</c>; the listener's
    /// name is the endpoint's name in the hand-over, so keep it across versions.
    /// </summary>
    public static IServiceCollection AddRelayConnections<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>(this IServiceCollection services, string listener)
        where THandler : RelayConnectionHandler
    {
        services.TryAddSingleton<THandler>();
        return ConnectionEndpoint.Add(services, listener, static sp => sp.GetRequiredService<THandler>());
    }
}
