// A service that speaks a raw TCP line protocol on the listener "counter", with its connections
// handed to the next generation at every relay (RelayConnectionHandler): no HTTP, no Kestrel.
// Each line is answered "{generation} {pid} {turn} {total} {line}": turn counts this connection's
// lines (its session), total every line the service has answered ([RelayState] Totals).
// COUNTER_MODE=refuse-sessions-from=N: generations N and later cannot read the sessions they are
// handed (each such connection is refused, and its old generation says "BYE session" and closes it).
using Aeterna;
using CounterApp;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

var builder = Host.CreateApplicationBuilder(args);
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
builder.AddAeterna(o => o.Listen("counter", "tcp://127.0.0.1:9100"));
builder.Services.AddRelayState<Totals>();
if (Environment.GetEnvironmentVariable("COUNTER_PROTOCOL") == "websocket")
    builder.Services.AddRelayWebSockets<CounterSocket>("counter");
else
    builder.Services.AddRelayConnections<LineCounter>("counter");
builder.Build().Run();
