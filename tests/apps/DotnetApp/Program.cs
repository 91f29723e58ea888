// The .NET service the supervisor tests relay. Plain ASP.NET Core, no Aeterna library: Kestrel
// takes the supervisor's listener through systemd socket activation (UseSystemd reads LISTEN_FDS
// and LISTEN_PID), READY=1 goes to NOTIFY_SOCKET once Kestrel serves, and SIGTERM starts a lame
// duck drain (see PausableListenerFactory.cs for why Kestrel's own shutdown is not enough).
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using DotnetApp;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Options;

var drainWindow = TimeSpan.FromMilliseconds(1000);
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.UseSystemd());
// The host's ConsoleLifetime would stop the app the moment SIGTERM arrives; the handler below drains first.
builder.Services.AddSingleton<IHostLifetime, SignalsHandledByTheApp>();
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
var pausable = new PausableListenerFactory();
builder.Services.AddSingleton<IConnectionListenerFactory>(services => pausable.Wrap(
    new SocketTransportFactory(services.GetRequiredService<IOptions<SocketTransportOptions>>(), services.GetRequiredService<ILoggerFactory>())));
var app = builder.Build();

app.Use((context, next) =>
{
    if (pausable.Paused) context.Response.Headers.Connection = "close";
    return next(context);
});
app.MapGet("/", () => Results.Json(new Dictionary<string, object?>
{
    ["pid"] = Environment.ProcessId,
    ["generation"] = Environment.GetEnvironmentVariable("AETERNA_GENERATION"),
}, AppJson.Default.DictionaryStringObject));

var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true; // not the host's immediate stop: drain first
    // 1. stop accepting: new connections stay in the shared queue for the new generation;
    // 2. answer what comes on open connections with "Connection: close", so clients leave between requests;
    // 3. then stop: by now every busy connection has been closed by its client.
    pausable.Pause();
    Notify("STOPPING=1");
    _ = Task.Delay(drainWindow).ContinueWith(_ => lifetime.StopApplication(), TaskScheduler.Default);
});
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
{
    context.Cancel = true;
    lifetime.StopApplication();
});
lifetime.ApplicationStarted.Register(() => Notify("READY=1\nSTATUS=serving"));
app.Run();

static void Notify(string message)
{
    string? path = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
    if (string.IsNullOrEmpty(path)) return;
    using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    socket.SendTo(Encoding.UTF8.GetBytes(message), new UnixDomainSocketEndPoint(path[0] == '@' ? "\0" + path[1..] : path));
}

internal sealed class SignalsHandledByTheApp : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, object?>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(int))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class AppJson : System.Text.Json.Serialization.JsonSerializerContext;
