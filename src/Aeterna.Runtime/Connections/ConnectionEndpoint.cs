using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Aeterna.Connections;

/// <summary>A handed-connection endpoint as registered: its name (a listener's) and how to make its handler.</summary>
internal sealed record ConnectionEndpoint(string Name, Func<IServiceProvider, RelayConnectionHandler> CreateHandler)
{
    /// <summary>Registers the endpoint <paramref name="listener"/> and the service that accepts on every endpoint's listener.</summary>
    public static IServiceCollection Add(IServiceCollection services, string listener, Func<IServiceProvider, RelayConnectionHandler> createHandler)
    {
        ArgumentException.ThrowIfNullOrEmpty(listener);
        if (System.Text.Encoding.UTF8.GetByteCount(listener) > Protocol.ConnectionRecord.MaxEndpointBytes)
            throw new ArgumentException($"an endpoint name is at most {Protocol.ConnectionRecord.MaxEndpointBytes} bytes of UTF-8", nameof(listener));
        services.AddSingleton(new ConnectionEndpoint(listener, createHandler));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ConnectionListeners>());
        return services;
    }
}
