// The .NET service the supervisor tests relay. Plain ASP.NET Core, no Aeterna library: Kestrel
// takes the supervisor's listener through systemd socket activation (UseSystemd reads LISTEN_FDS
// and LISTEN_PID), READY=1 goes to NOTIFY_SOCKET once Kestrel serves, and SIGTERM starts a lame
// duck drain: every response says "Connection: close" for a moment, so keep-alive clients move to
// the new generation between requests instead of having an idle connection closed under them.
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

var drainWindow = TimeSpan.FromMilliseconds(1000);
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.UseSystemd());
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
var app = builder.Build();

bool draining = false;
app.Use((context, next) =>
{
    if (Volatile.Read(ref draining)) context.Response.Headers.Connection = "close";
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
    Volatile.Write(ref draining, true);
    Notify("STOPPING=1");
    _ = Task.Delay(drainWindow).ContinueWith(_ => lifetime.StopApplication(), TaskScheduler.Default);
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

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, object?>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(int))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class AppJson : System.Text.Json.Serialization.JsonSerializerContext;
