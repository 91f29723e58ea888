// ChatAgent: a chat agent whose memory survives every deploy.
//
// Under the Aeterna supervisor (`dotnet aeterna start -c aeterna.yaml`) it serves on the socket the
// supervisor holds, and at a relay hands its conversations and embedding cache to the next version
// of itself. Standalone (`dotnet run`) it binds the address below and starts empty.
using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Aeterna;
using ChatAgent;

[assembly: RelayListener("http", "tcp://0.0.0.0:8080")]
// The handed WebSockets and reply streams (Agent/HandedChatSocket.cs, HandedReplyStream.cs): served by the runtime, not Kestrel.
[assembly: RelayListener("ws", "tcp://0.0.0.0:8081")]
// The Aeterna runtime is Linux-only (socket activation, memfd, SCM_RIGHTS).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
builder.AddAeterna();                               // inherited listeners, readiness, freeze, drain
builder.Services.AddRelayState<AgentMemory>();      // the state that crosses every relay
var about = new About(
    int.TryParse(Environment.GetEnvironmentVariable("AETERNA_GENERATION"), out int generation) ? generation : 0,
    Environment.ProcessId,
    typeof(AgentMemory).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown");
builder.Services.AddSingleton(about);
// The listener "ws": WebSockets and streamed replies whose open connections go to the next
// generation at a relay (Agent/HandedChatSocket.cs, Agent/HandedReplyStream.cs), one port for both.
// Under a supervisor whose aeterna.yaml has no listener "ws" they are left out: binding the
// declared address here instead would fail in the next generation, with the port still taken.
bool supervised = RelayListeners.Names.Any(RelayListeners.IsInherited);
bool handed = !supervised || RelayListeners.IsInherited("ws");
if (handed)
{
    builder.Services.AddRelayWebSockets<HandedChatSocket>("ws");
    builder.Services.AddRelayEventStreams<HandedReplyStream>("ws");
}
var app = builder.Build();
if (!handed)
    app.Logger.LogWarning("aeterna: no listener 'ws' in the supervisor's config: the handed WebSockets and reply streams (port 8081) are off; add `- name: ws` with an address under listeners: in aeterna.yaml to serve them");

app.UseWebSockets();

// With `Accept: text/event-stream` the reply comes as a stream of tokens (Agent/ReplyStream.cs);
// either way the turn is in the conversation, whole, before the first byte of the answer is sent.
app.MapPost("/sessions/{id}/messages", async (string id, HttpRequest request, AgentMemory memory) =>
{
    var (turns, refused) = await Api.SendAsync(id, request, memory);
    if (turns is not { } sent) return refused!;
    if (ReplyStream.IsWanted(request)) return new ReplyStream(about.Generation, sent.Turn, sent.Reply.Text);
    return Results.Json(new SessionView(id, [sent.User, sent.Reply]), Api.Json.SessionView);
});

// One turn, answered as the WebSocket answers it: each message on a socket becomes this request.
app.MapPost("/sessions/{id}/turns", async (string id, HttpRequest request, AgentMemory memory) =>
{
    var (turns, refused) = await Api.SendAsync(id, request, memory);
    if (turns is not { } sent) return refused!;
    return Results.Json(Api.Answer(about, sent), Api.Json.TurnView);
});

// A conversation over a WebSocket on the HTTP port (Agent/ChatSocket.cs): it stays on the generation
// that accepted it and is ended with 1012 when that one retires. The one on the listener "ws"
// (Agent/HandedChatSocket.cs) crosses relays.
app.MapGet("/sessions/{id}/ws", async (string id, HttpContext context) =>
{
    if (!Limits.IsValidSessionId(id)) { await Api.BadSessionId().ExecuteAsync(context); return; }
    if (!context.WebSockets.IsWebSocketRequest)
    {
        await Api.Error(StatusCodes.Status400BadRequest, "a WebSocket endpoint: connect with a WebSocket client").ExecuteAsync(context);
        return;
    }
    await ChatSocket.ServeAsync(context, id);
});

app.MapGet("/sessions/{id}", (string id, AgentMemory memory) =>
{
    if (!Limits.IsValidSessionId(id)) return Api.BadSessionId();
    return memory.History(id) is { } messages
        ? Results.Json(new SessionView(id, messages), Api.Json.SessionView)
        : Api.Error(StatusCodes.Status404NotFound, $"no session '{id}'");
});

app.MapGet("/healthz", () => Results.Json(new Health("ok"), Api.Json.Health));
app.MapGet("/about", () => Results.Json(about, Api.Json.About));
app.MapGet("/stats", (AgentMemory memory) => Results.Json(memory.Stats(), Api.Json.AgentStats));

// Compile the generated state serializers now, while the previous generation still serves, so
// that a relay's hand-over (the time new connections wait) does not include the JIT.
AgentMemory.WarmUp();
app.Run();

/// <summary>Reading and refusing requests: bad input gets a 400 with a JSON error, and changes nothing.</summary>
internal static class Api
{
    public static AgentJson Json { get; } = new(new JsonSerializerOptions(AgentJson.Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    public static IResult Error(int status, string message) =>
        Results.Json(new ErrorBody(message), Json.ErrorBody, statusCode: status);

    private static readonly string BadSessionIdText = $"a session id is 1 to {Limits.MaxSessionIdLength} letters, digits, '-', '_' or '.'";

    public static IResult BadSessionId() => Error(StatusCodes.Status400BadRequest, BadSessionIdText);

    /// <summary>Reads the message and adds the turn; or the answer that refuses it (400 bad input, 409 a limit), nothing changed.</summary>
    public static async Task<((ChatMessage User, ChatMessage Reply, int Turn)? Turns, IResult? Refused)> SendAsync(string id, HttpRequest request, AgentMemory memory)
    {
        if (!Limits.IsValidSessionId(id)) return (null, BadSessionId());
        var (text, error) = await ReadMessageAsync(request);
        if (error is not null) return (null, Error(StatusCodes.Status400BadRequest, error));
        var (turns, status, refusal) = Send(id, text!, memory);
        return turns is not null ? (turns, null) : (null, Error(status, refusal!));
    }

    /// <summary>
    /// A turn: the user's message and the agent's reply added to the conversation, whatever the
    /// transport (the HTTP routes and the handed WebSocket); or the status (400 bad input, 409 a
    /// limit) and why, nothing changed.
    /// </summary>
    /// <remarks>
    /// A <paramref name="streamed"/> turn (a handed reply stream) adds the reply when its stream
    /// ends (<see cref="AgentMemory.Finish"/>) rather than now.
    /// </remarks>
    public static ((ChatMessage User, ChatMessage Reply, int Turn)? Turns, int Status, string? Error) Send(string id, string text, AgentMemory memory, bool streamed = false)
    {
        if (!Limits.IsValidSessionId(id)) return (null, StatusCodes.Status400BadRequest, BadSessionIdText);
        if (string.IsNullOrWhiteSpace(text)) return (null, StatusCodes.Status400BadRequest, "\"text\" is empty");
        if (text.Length > Limits.MaxTextLength) return (null, StatusCodes.Status400BadRequest, $"\"text\" is over {Limits.MaxTextLength} characters");
        return memory.Send(id, text, out string? refusal, streamed) is { } turns
            ? (turns, StatusCodes.Status200OK, null)
            : (null, StatusCodes.Status409Conflict, refusal);
    }

    /// <summary>How a turn is answered on a WebSocket and by <c>POST /sessions/{id}/turns</c>.</summary>
    public static TurnView Answer(About about, (ChatMessage User, ChatMessage Reply, int Turn) sent) =>
        new(about.Generation, sent.Turn, sent.Reply.Text);

    /// <summary>The text of a <c>{"text": "…"}</c> body, or what is wrong with the body.</summary>
    public static async Task<(string? Text, string? Error)> ReadMessageAsync(HttpRequest request)
    {
        if (request.ContentLength > Limits.MaxBodyBytes) return (null, $"the body is over {Limits.MaxBodyBytes} bytes");
        var buffer = new byte[Limits.MaxBodyBytes + 1];
        int length = 0, read;
        while (length < buffer.Length && (read = await request.Body.ReadAsync(buffer.AsMemory(length), request.HttpContext.RequestAborted)) > 0)
            length += read;
        return ParseMessage(buffer.AsSpan(0, length));
    }

    /// <summary>The text of a <c>{"text": "…"}</c> body already read, or what is wrong with it.</summary>
    public static (string? Text, string? Error) ParseMessage(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 0) return (null, "no body: send {\"text\": \"...\"}");
        if (bytes.Length > Limits.MaxBodyBytes) return (null, $"the body is over {Limits.MaxBodyBytes} bytes");
        MessageRequest? body;
        try
        {
            body = JsonSerializer.Deserialize(bytes, Json.MessageRequest);
        }
        catch (JsonException e)
        {
            return (null, $"the body is not the JSON expected, {{\"text\": \"...\"}}: {e.Message}");
        }
        if (body?.Text is not { } text) return (null, "the body needs a \"text\" string: {\"text\": \"...\"}");
        return (text, null);
    }
}

internal sealed record MessageRequest(string? Text);

/// <summary>A session, or the turns just added to it: <c>{"id": "…", "messages": [{"role": …, "text": …}, …]}</c>.</summary>
internal sealed record SessionView(string Id, IReadOnlyList<ChatMessage> Messages);

/// <summary>One turn as the WebSocket (and <c>POST /sessions/{id}/turns</c>) answers it: which generation computed it, the turn's number in the session, the reply.</summary>
internal sealed record TurnView(int Generation, int Turn, string Reply);

internal sealed record ErrorBody(string Error);

internal sealed record Health(string Status);

/// <summary>GET /about: which generation and process answered, and the app's version.</summary>
internal sealed record About(int Generation, int Pid, string Version);

/// <summary>Source-generated JSON (no reflection); <see cref="Api.Json"/> writes quotes in texts as they are, not as \u0022.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(MessageRequest))]
[JsonSerializable(typeof(SessionView))]
[JsonSerializable(typeof(TurnView))]
[JsonSerializable(typeof(TokenEvent))]
[JsonSerializable(typeof(StreamDone))]
[JsonSerializable(typeof(ErrorBody))]
[JsonSerializable(typeof(Health))]
[JsonSerializable(typeof(About))]
[JsonSerializable(typeof(AgentStats))]
internal sealed partial class AgentJson : JsonSerializerContext;
