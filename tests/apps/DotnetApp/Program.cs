// The stateless .NET service the supervisor tests relay under keep-alive load: ASP.NET Core with
// one call, AddAeterna(). Kestrel serves on the inherited listener, READY goes to the supervisor
// once it serves, and SIGTERM drains as a lame duck (accepting stops first; keep-alive clients get
// "Connection: close" between requests). Kestrel alone would close idle keep-alive connections at
// shutdown, racing with their clients' next requests.
using Aeterna;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.AddAeterna(o => o.Listen("http", "tcp://127.0.0.1:8080"));
var app = builder.Build();

app.MapGet("/", () => Results.Json(new Dictionary<string, object?>
{
    ["pid"] = Environment.ProcessId,
    ["generation"] = Environment.GetEnvironmentVariable("AETERNA_GENERATION"),
}, AppJson.Default.DictionaryStringObject));
app.Run();

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, object?>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(int))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class AppJson : System.Text.Json.Serialization.JsonSerializerContext;
