using System.Net;
using System.Net.Sockets;
using System.Text;
using Aeterna.Tool.Logging;
using Aeterna.Tool.Observability;
using Aeterna.Tests.Support;

namespace Aeterna.Tool.Tests.Observability;

/// <summary>The tiny HTTP server behind /metrics, spoken to over real sockets, well and badly.</summary>
public sealed class HttpEndpointTests : IDisposable
{
    private readonly MemoryStream _logged = new();
    private readonly HttpEndpoint _endpoint;

    public HttpEndpointTests()
    {
        // The default deadline (10 s): a short one would turn a slow test host's 414 into a 408.
        _endpoint = HttpEndpoint.Start("127.0.0.1:0", Handle, Log(_logged));
    }

    private static EventLog Log(Stream to) => new(Aeterna.Tool.Configuration.LogFormat.Text, Aeterna.Tool.Configuration.LogLevel.Info, to);

    private static HttpResponse Handle(HttpRequest request) => request.Path switch
    {
        "/hello" => HttpResponse.Text(200, $"hello {request.Method} {request.Query}\n"),
        "/boom" => throw new InvalidOperationException("handler bug"),
        _ => HttpResponse.Text(404, "no\n"),
    };

    private int Port => _endpoint.LocalEndPoint.Port;

    /// <summary>Sends <paramref name="request"/> as raw bytes and reads until the server closes.</summary>
    private Task<string> RawAsync(string request) => RawAsync(Port, request);

    private static async Task<string> RawAsync(int port, string request)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, port);
        await client.SendAsync(Encoding.ASCII.GetBytes(request));
        return await ReadToEndAsync(client);
    }

    private static async Task<string> ReadToEndAsync(Socket client)
    {
        var text = new StringBuilder();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int n;
        while ((n = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        return text.ToString();
    }

    [Fact]
    public async Task Get_answers_with_length_and_connection_close_and_head_without_a_body()
    {
        string get = await RawAsync("GET /hello?x=1 HTTP/1.1\r\nHost: t\r\nAccept: */*\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", get);
        Assert.Contains("\r\nContent-Length: 14\r\n", get);
        Assert.Contains("\r\nConnection: close\r\n", get);
        Assert.EndsWith("\r\n\r\nhello GET x=1\n", get);

        string head = await RawAsync("HEAD /hello HTTP/1.0\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", head);
        Assert.Contains("\r\nContent-Length: 12\r\n", head); // the length of the body a GET would get ("hello HEAD \n")
        Assert.EndsWith("\r\n\r\n", head);

        using var http = new HttpClient();
        Assert.Equal("hello GET \n", await http.GetStringAsync($"http://127.0.0.1:{Port}/hello"));
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"http://127.0.0.1:{Port}/other")).StatusCode);
    }

    [Fact]
    public async Task Wrong_method_version_or_request_line_get_405_505_and_400()
    {
        string post = await RawAsync("POST /hello HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
        Assert.StartsWith("HTTP/1.1 405 Method Not Allowed\r\n", post);
        Assert.Contains("\r\nAllow: GET, HEAD\r\n", post);
        Assert.StartsWith("HTTP/1.1 505 ", await RawAsync("GET /hello HTTP/2.0\r\n\r\n"));
        Assert.StartsWith("HTTP/1.1 400 ", await RawAsync("this is not http\r\n\r\n"));
        Assert.StartsWith("HTTP/1.1 400 ", await RawAsync("GET hello HTTP/1.1\r\n\r\n"));
        // absolute-form, as a proxy would send it
        Assert.EndsWith("hello GET \n", await RawAsync("GET http://example:9090/hello HTTP/1.1\r\n\r\n"));
    }

    [Fact]
    public async Task Oversized_requests_get_414_or_431_and_a_stalled_one_408()
    {
        Assert.StartsWith("HTTP/1.1 414 ", await RawAsync("GET /" + new string('a', 9000) + " HTTP/1.1\r\n\r\n"));
        Assert.StartsWith("HTTP/1.1 431 ", await RawAsync("GET /hello HTTP/1.1\r\nX-Big: " + new string('b', 9000) + "\r\n\r\n"));

        using var impatient = HttpEndpoint.Start("127.0.0.1:0", Handle, Log(_logged), TimeSpan.FromMilliseconds(700));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string stalled = await RawAsync(impatient.LocalEndPoint.Port, "GET /hello HTTP/1.1\r\nHost: t\r\n"); // the head never ends
        Assert.StartsWith("HTTP/1.1 408 ", stalled);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.5, 5);
    }

    [Fact]
    public async Task A_handler_that_throws_gets_500_and_a_log_line_and_the_server_keeps_serving()
    {
        Assert.StartsWith("HTTP/1.1 500 ", await RawAsync("GET /boom HTTP/1.1\r\n\r\n"));
        Assert.Contains("handler bug", Encoding.UTF8.GetString(_logged.ToArray()));
        Assert.StartsWith("HTTP/1.1 200 ", await RawAsync("GET /hello HTTP/1.1\r\n\r\n"));
    }

    [Fact]
    public async Task Idle_connections_beyond_the_cap_are_refused_with_503_and_the_cap_recovers()
    {
        var idle = new List<Socket>();
        try
        {
            for (int i = 0; i < HttpEndpoint.MaxConnections; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await s.ConnectAsync(IPAddress.Loopback, Port);
                idle.Add(s);
            }
            await Task.Delay(200); // let the server accept them all
            Assert.StartsWith("HTTP/1.1 503 ", await RawAsync("GET /hello HTTP/1.1\r\n\r\n"));
        }
        finally
        {
            foreach (var s in idle) s.Dispose();
        }
        // The idle ones are dropped when they close; then there is room again.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        string answer;
        do answer = await RawAsync("GET /hello HTTP/1.1\r\n\r\n");
        while (!answer.StartsWith("HTTP/1.1 200 ", StringComparison.Ordinal) && DateTime.UtcNow < deadline);
        Assert.StartsWith("HTTP/1.1 200 ", answer);
    }

    [Fact]
    public async Task A_bare_port_binds_every_interface_IPv4_and_IPv6()
    {
        int port = FreePort.Get();
        using var any = HttpEndpoint.Start(port.ToString(), Handle, Log(new MemoryStream()));
        using var http = new HttpClient();
        Assert.Equal("hello GET \n", await http.GetStringAsync($"http://127.0.0.1:{port}/hello"));
        if (Socket.OSSupportsIPv6 && System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces().Any(n => n.Supports(System.Net.NetworkInformation.NetworkInterfaceComponent.IPv6)))
        {
            try { Assert.Equal("hello GET \n", await http.GetStringAsync($"http://[::1]:{port}/hello")); }
            catch (HttpRequestException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.AddressNotAvailable or SocketError.NetworkUnreachable }) { } // no ::1 on this host
        }
    }

    [Fact]
    public void A_port_in_use_is_a_clear_error_with_the_fix()
    {
        var e = Assert.Throws<MetricsEndpointException>(() =>
            HttpEndpoint.Start($"127.0.0.1:{Port}", Handle, Log(new MemoryStream())));
        Assert.Contains($"observability.metrics_port '127.0.0.1:{Port}'", e.Message);
        Assert.Contains($"another process listens on port {Port}", e.Message);
        Assert.Contains("Fix:", e.Message);

        var notLocal = Assert.Throws<MetricsEndpointException>(() =>
            HttpEndpoint.Start("192.0.2.1:9", Handle, Log(new MemoryStream())));
        Assert.Contains("is not an address of this machine", notLocal.Message);
    }

    public void Dispose() => _endpoint.Dispose();
}
