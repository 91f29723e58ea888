using Aeterna.Connections;
using Aeterna.Hosting;
using Aeterna.Kestrel;
using Aeterna.Kestrel.LongLived;
using Aeterna.Relay;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Aeterna;

/// <summary>The one call that makes an app relay-aware, and the registration of its state.</summary>
public static class AeternaHostingExtensions
{
    /// <summary>
    /// Under the Aeterna supervisor: Kestrel serves on the inherited listeners, state registered
    /// with <see cref="AddRelayState{T}"/> is imported before the first request and exported at
    /// freeze, readiness is reported once the app has started, and SIGTERM drains as a lame duck.
    /// Without a supervisor the app binds its declared listeners (or Kestrel's configured URLs)
    /// and starts with empty state.
    /// </summary>
    public static TBuilder AddAeterna<TBuilder>(this TBuilder builder, Action<AeternaOptions>? configure = null) where TBuilder : IHostApplicationBuilder
    {
        var options = new AeternaOptions();
        configure?.Invoke(options);
        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton<AeternaContext>();
        services.AddSingleton<AcceptGate>();
        services.AddSingleton<ConnectionCounter>();
        services.AddSingleton<FrozenRequestForwarder>();
        services.AddSingleton<LongLivedConnections>();
        services.AddSingleton<RequestGate>();
        services.AddSingleton<IServingGate, KestrelServingGate>();
        services.AddSingleton(static sp => new HandedConnections(
            sp.GetServices<ConnectionEndpoint>().DistinctBy(e => e.Name).ToDictionary(e => e.Name, e => e.CreateHandler(sp), StringComparer.Ordinal),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Aeterna.Connections")));
        services.AddSingleton(sp => RelayStateRegistration.BuildSet(sp, sp.GetServices<RelayStateRegistration>()));
        services.AddSingleton<IConnectionListenerFactory>(sp => new GatedListenerFactory(
            new SocketTransportFactory(sp.GetRequiredService<IOptions<SocketTransportOptions>>(), sp.GetRequiredService<ILoggerFactory>()),
            sp.GetRequiredService<AcceptGate>(), sp.GetRequiredService<ConnectionCounter>()));
        services.AddSingleton<IConfigureOptions<KestrelServerOptions>, KestrelListenerSetup>();
        services.AddSingleton<IStartupFilter, RequestGateStartupFilter>();
        services.AddSingleton<IHostLifetime, AeternaLifetime>();
        services.AddHostedService<AeternaService>();
        // Kestrel's own shutdown comes at the end of the drain and only closes what is left.
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(1));
        return builder;
    }

    /// <summary>
    /// Registers <typeparamref name="T"/> as a singleton whose state crosses relays: exported by the
    /// old generation, imported by the new one before it serves. Implement <see cref="IRelayState"/>
    /// with the <c>[RelayState]</c> generator (a <c>partial</c> type) or by hand.
    /// </summary>
    public static IServiceCollection AddRelayState<T>(this IServiceCollection services) where T : class, IRelayState, new()
    {
        services.AddSingleton(static _ => new T());
        services.AddSingleton(new RelayStateRegistration(typeof(T).FullName!, sp => sp.GetRequiredService<T>(), static () => new T()));
        return services;
    }

    /// <summary>Puts the <see cref="RequestGate"/> in front of everything else in the pipeline.</summary>
    private sealed class RequestGateStartupFilter(RequestGate gate) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(gate.InvokeAsync);
            next(app);
        };
    }
}
