// The stateful service the supervisor tests relay: Kestrel with Aeterna.Runtime, a key-value store
// and a shared-memory block that cross every relay. PUT /items/{key} stores the body; GET
// /items/{key} reads it back; POST /memory?floats=N&seed=S fills a RelayMemory<float>; GET /memory
// gives its length and CRC-32C; GET / says which process answered; /ws echoes WebSocket messages;
// GET /events streams Server-Sent Events, numbered on from Last-Event-ID.
using System.Text.Json.Serialization;
using Aeterna;
using StatefulApp;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
builder.AddAeterna(o => o.Listen("http", "tcp://127.0.0.1:8080"));
builder.Services.AddRelayState<Store>();
builder.Services.AddRelayState<Profile>();
// STATEFUL_MODE=unhealthy: the app's own health check fails (the supervisor hears it through HEALTH).
builder.Services.AddHealthChecks().AddCheck("store", () => Environment.GetEnvironmentVariable("STATEFUL_MODE") == "unhealthy"
    ? Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Unhealthy("test: unhealthy on purpose")
    : Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy());
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, AppJson.Default));
var app = builder.Build();

// STATEFUL_MODE=crash-after=S: the process dies S seconds after it started (a canary failing its soak).
string mode = Environment.GetEnvironmentVariable("STATEFUL_MODE") ?? "";
if (mode.StartsWith("crash-after=", StringComparison.Ordinal))
    _ = Task.Delay(TimeSpan.FromSeconds(double.Parse(mode[12..], System.Globalization.CultureInfo.InvariantCulture))).ContinueWith(_ => Environment.Exit(70), TaskScheduler.Default);

string generation = Environment.GetEnvironmentVariable("AETERNA_GENERATION") ?? "0";
app.UseWebSockets();
app.Map("/ws", async (HttpContext context) =>
{
    if (!context.WebSockets.IsWebSocketRequest)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        return;
    }
    using var socket = await context.WebSockets.AcceptWebSocketAsync();
    var buffer = new byte[4096];
    while (true)
    {
        var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
        if (received.MessageType == System.Net.WebSockets.WebSocketMessageType.Close)
        {
            await socket.CloseAsync(received.CloseStatus ?? System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, received.CloseStatusDescription, CancellationToken.None);
            return;
        }
        await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, CancellationToken.None);
    }
});
// One event every 100 ms, `count` of them (default 200): a stream that outlives a relay.
app.MapGet("/events", async (HttpContext context, int? count) =>
{
    context.Response.ContentType = "text/event-stream";
    long next = long.TryParse(context.Request.Headers["Last-Event-ID"], out long last) ? last + 1 : 0;
    for (int i = 0; i < (count ?? 200); i++, next++)
    {
        await context.Response.WriteAsync($"id: {next}\ndata: generation {generation}\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
        await Task.Delay(100, context.RequestAborted);
    }
});
app.MapGet("/", (Store store) => new Served(Environment.ProcessId, generation, store.Items.Count));
app.MapPut("/items/{key}", async (string key, HttpRequest request, Store store) =>
{
    using var reader = new StreamReader(request.Body);
    store.Items[key] = await reader.ReadToEndAsync();
    return Results.NoContent();
});
app.MapGet("/items/{key}", (string key, Store store) => store.Items.TryGetValue(key, out var value) ? Results.Text(value) : Results.NotFound());
app.MapPost("/memory", (long floats, int seed, Store store) =>
{
    store.FillMemory(floats, seed);
    return new MemoryInfo(store.Memory!.Length, store.MemoryChecksum());
});
app.MapPut("/profile/{name}", (string name, Profile profile) =>
{
    profile.Name = name;
    profile.Revision++;
    return Results.NoContent();
});
app.MapGet("/profile", (Profile profile) => Results.Text($"{profile.Name} {profile.Revision}"));
// STATEFUL_MODE=flaky: this endpoint fails (500), to drive the canary's error rate.
app.MapGet("/flaky", () => mode == "flaky" ? Results.StatusCode(500) : Results.Ok());
app.MapGet("/memory", (Store store) => new MemoryInfo(store.Memory?.Length ?? 0, store.MemoryChecksum()));
// STATEFUL_BOOT_FLOATS=N: a cold boot that rebuilds its state (N floats of "embeddings") before it
// serves: the baseline a relay's hand-over is measured against (bench/run handover).
if (long.TryParse(Environment.GetEnvironmentVariable("STATEFUL_BOOT_FLOATS"), out long bootFloats) && bootFloats > 0)
    app.Services.GetRequiredService<Store>().FillMemory(bootFloats, seed: 1);
app.Run();

internal sealed record Served(int Pid, string Generation, int Items);

internal sealed record MemoryInfo(long Floats, uint Crc);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(Served))]
[JsonSerializable(typeof(MemoryInfo))]
internal sealed partial class AppJson : JsonSerializerContext;
