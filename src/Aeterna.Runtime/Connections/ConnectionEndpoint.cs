namespace Aeterna.Connections;

/// <summary>A handed-connection endpoint as registered: its name (a listener's) and how to make its handler.</summary>
internal sealed record ConnectionEndpoint(string Name, Func<IServiceProvider, RelayConnectionHandler> CreateHandler);
