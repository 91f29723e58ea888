using System.Net;
using System.Net.WebSockets;
using System.Text;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Relay;

/// <summary>
/// An unmodified app (tests/apps/StatefulApp: a plain UseWebSockets() echo and a plain SSE
/// endpoint) relays 20 times, 10 with its state handed over and 10 without (each relay waits for
/// the old generation's drain, so the suite's time sets the count), while a WebSocket client
/// and an SSE client stay connected and wrk keeps keep-alive load on it. Every relay commits (no
/// freeze waits for a long-lived connection), the load sees no failure, the state is intact, and
/// each long-lived connection the old generation ends is ended properly: the WebSocket with close
/// 1012, the stream after a complete event. Both clients reconnect, the stream from its
/// Last-Event-ID, so no event is lost or repeated.
/// </summary>
[Collection(LoadTests.Name)]
public sealed class LongLivedRelayEvidenceTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(true, 10)]
    [InlineData(false, 10)]
    public async Task An_unmodified_app_relays_with_a_WebSocket_and_an_event_stream_open_under_load(bool stateful, int relays)
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var config = new TestConfig
        {
            Command = ["dotnet", TestApps.StatefulApp], Port = port, Readiness = "auto", ReadyTimeout = "20s", Drain = "3s",
            Handoff = [$"enabled: {(stateful ? "true" : "false")}", "timeout: 5s"],
        }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);
        var address = new Uri($"http://127.0.0.1:{port}/");
        using var http = new HttpClient { BaseAddress = address };
        (await http.PutAsync("/items/kept", new StringContent("across every relay"))).EnsureSuccessStatusCode();

        using var stop = new CancellationTokenSource();
        var webSocket = new WebSocketClient(new Uri($"ws://127.0.0.1:{port}/ws"));
        var events = new EventStreamClient(address);
        var clients = Task.WhenAll(webSocket.RunAsync(stop.Token), events.RunAsync(stop.Token));
        var load = WrkLoad.Start(address.ToString(), connections: 16);
        await EventuallyAsync(() => webSocket.Answered > 0 && events.Received > 0, "both long-lived clients are served");

        for (int i = 0; i < relays; i++)
        {
            var (code, report) = await supervisor.RelayAsync("--soak", "0");
            Assert.True(code == 0, $"relay {i + 1} exited {code}: {report}");
            Assert.Equal("committed", report.GetProperty("outcome").GetString());
            if (stateful) Assert.Equal("across every relay", await http.GetStringAsync("/items/kept"));
        }
        // The old generations end their connections before their drain timeout and exit; then
        // both clients are served by the last generation.
        await EventuallyAsync(async () => (await supervisor.StatusAsync()).GetProperty("generations").GetArrayLength() == 1, "every old generation has exited");
        long answered = webSocket.Answered, received = events.Received;
        await EventuallyAsync(() => webSocket.Answered > answered && events.Received > received, "both clients are served after the last relay");
        await stop.CancelAsync();
        await clients.WaitAsync(TimeSpan.FromSeconds(10));
        var result = await load.StopAsync();
        output.WriteLine($"wrk: {result}");
        output.WriteLine($"WebSocket: {webSocket.Answered} messages answered, {webSocket.Closed1012} closes with 1012, {webSocket.Refused} handshakes refused");
        output.WriteLine($"events: {events.Received} received, {events.Endings} streams ended between events");

        Assert.True(result.Clean, $"the load saw failures across {relays} relays: {result}");
        Assert.Empty(webSocket.Failures);
        Assert.Empty(events.Failures);
        // Each old generation that held a connection ended it properly (it may have ended before
        // the next relay for connections made to a lame duck's successor in between).
        Assert.True(webSocket.Closed1012 >= 1, "no WebSocket was ever ended with 1012");
        Assert.True(events.Endings >= 1, "no stream was ever ended between events");
        Assert.Equal(relays + 1, (await supervisor.StatusAsync()).GetProperty("active_generation").GetInt32());
    }

    private static Task EventuallyAsync(Func<bool> condition, string what) => EventuallyAsync(() => Task.FromResult(condition()), what);

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException($"not within 30 s: {what}");
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Sends a message every 50 ms and expects its echo. A close with 1012 is a proper ending and
    /// a 503 handshake (a generation that no longer serves) a proper refusal: both reconnect.
    /// Anything else (a cut connection, another close code, a wrong echo) is a failure.
    /// </summary>
    private sealed class WebSocketClient(Uri address)
    {
        public long Answered;
        public int Closed1012;
        public int Refused;
        public List<string> Failures { get; } = [];

        public async Task RunAsync(CancellationToken stop)
        {
            var buffer = new byte[256];
            while (!stop.IsCancellationRequested)
            {
                using var socket = new ClientWebSocket();
                try
                {
                    await socket.ConnectAsync(address, stop);
                }
                catch (WebSocketException e) when (e.Message.Contains("503", StringComparison.Ordinal))
                {
                    Refused++;
                    await Task.Delay(50, CancellationToken.None);
                    continue;
                }
                catch (OperationCanceledException) { return; }
                try
                {
                    while (!stop.IsCancellationRequested)
                    {
                        string text = $"message {Answered}";
                        await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, stop);
                        var received = await socket.ReceiveAsync(buffer, stop);
                        if (received.MessageType == WebSocketMessageType.Close)
                        {
                            if (socket.CloseStatus == (WebSocketCloseStatus)1012) Closed1012++;
                            else Failures.Add($"closed with {socket.CloseStatus} {socket.CloseStatusDescription}");
                            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                            break;
                        }
                        string echo = Encoding.UTF8.GetString(buffer, 0, received.Count);
                        if (echo != text) Failures.Add($"sent '{text}', echoed '{echo}'");
                        Answered++;
                        await Task.Delay(50, stop);
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested) { return; }
                catch (Exception e) when (e is WebSocketException or IOException)
                {
                    Failures.Add($"cut: {e.Message}");
                }
            }
        }
    }

    /// <summary>
    /// Reads the event stream; when it ends it must end after a complete event, and the client
    /// reconnects with Last-Event-ID, so every event id follows the one before it.
    /// </summary>
    private sealed class EventStreamClient(Uri address)
    {
        public long Received;
        public int Endings;
        public List<string> Failures { get; } = [];

        public async Task RunAsync(CancellationToken stop)
        {
            using var http = new HttpClient { BaseAddress = address, Timeout = Timeout.InfiniteTimeSpan };
            long last = -1;
            while (!stop.IsCancellationRequested)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/events?count=100000");
                if (last >= 0) request.Headers.Add("Last-Event-ID", last.ToString(System.Globalization.CultureInfo.InvariantCulture));
                try
                {
                    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stop);
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        Failures.Add($"GET /events: {(int)response.StatusCode}");
                        await Task.Delay(50, stop);
                        continue;
                    }
                    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop));
                    string previous = "";
                    while (await reader.ReadLineAsync(stop) is { } line)
                    {
                        if (line.StartsWith("id: ", StringComparison.Ordinal))
                        {
                            long id = long.Parse(line[4..], System.Globalization.CultureInfo.InvariantCulture);
                            if (id != last + 1) Failures.Add($"event {id} after {last}");
                            last = id;
                            Received++;
                        }
                        previous = line;
                    }
                    if (previous != "") Failures.Add($"the stream ended inside an event, after '{previous}'");
                    Endings++;
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested) { return; }
                catch (Exception e) when (e is HttpRequestException or IOException)
                {
                    Failures.Add($"cut: {e.Message}");
                }
            }
        }
    }
}
