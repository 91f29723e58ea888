using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Aeterna.Tool.Logging;

namespace Aeterna.Tool.Observability;

/// <summary>A parsed request line: GET or HEAD, the path without its query.</summary>
internal readonly record struct HttpRequest(string Method, string Path, string Query);

/// <summary>A whole response; bodies are small (a scrape is tens of KiB).</summary>
internal sealed class HttpResponse(int status, string contentType, ReadOnlyMemory<byte> body, byte[]? pooled = null)
{
    private byte[]? _pooled = pooled;

    public int Status { get; } = status;

    public string ContentType { get; } = contentType;

    public ReadOnlyMemory<byte> Body { get; } = body;

    public static HttpResponse Text(int status, string text) => new(status, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes(text));

    /// <summary>A copy of <paramref name="body"/> in an array from the shared pool, returned once the response is sent.</summary>
    public static HttpResponse Pooled(int status, string contentType, ReadOnlySpan<byte> body)
    {
        byte[] array = ArrayPool<byte>.Shared.Rent(Math.Max(body.Length, 1));
        body.CopyTo(array);
        return new HttpResponse(status, contentType, array.AsMemory(0, body.Length), array);
    }

    /// <summary>Gives a pooled body back (the endpoint calls it after sending).</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _pooled, null) is { } array) ArrayPool<byte>.Shared.Return(array);
    }
}

/// <summary>
/// A deliberately tiny HTTP/1.1 server for the observability endpoints: GET and HEAD, one request
/// per connection (<c>Connection: close</c>), request head bounded to 8 KiB, a deadline for each
/// connection, a cap on connections at once. Anything else gets a proper status: 400, 404, 405
/// (with Allow), 408, 414, 431, 505.
/// </summary>
/// <remarks>
/// Not ASP.NET Core: Kestrel and the hosting stack would add tens of MiB of working set and a
/// startup cost to a PID 1 whose whole point is to be small (docs/benchmarks.md), for four GET
/// routes. Not <see cref="HttpListener"/> either: its documentation recommends against it for new
/// development (limited servicing; on Linux a managed implementation with a narrower feature set).
/// What a port exposed to a network needs (a bound on the request head, a deadline per
/// connection, a cap on connections) is simpler to state and test in the few hundred lines below
/// than to find in either. What a metrics scraper and a Kubernetes probe send is a request line
/// and a few headers; this reads exactly that with System.Net.Sockets. No System.Console: this
/// runs in the supervisor (see EventLog).
/// </remarks>
internal sealed class HttpEndpoint : IDisposable
{
    public const int MaxRequestHeadBytes = 8 * 1024;
    public const int MaxConnections = 32;

    private static readonly byte[] HeadEnd = "\r\n\r\n"u8.ToArray();

    private readonly Socket _listener;
    private readonly Func<HttpRequest, HttpResponse> _handler;
    private readonly EventLog _log;
    private readonly SemaphoreSlim _connections = new(MaxConnections, MaxConnections);
    private readonly CancellationTokenSource _closing = new();
    private readonly byte[] _sink = new byte[512];

    private HttpEndpoint(Socket listener, Func<HttpRequest, HttpResponse> handler, EventLog log, TimeSpan timeout)
    {
        _listener = listener;
        _handler = handler;
        _log = log;
        RequestTimeout = timeout;
    }

    /// <summary>The whole life of one connection, from accept to the response written.</summary>
    public TimeSpan RequestTimeout { get; }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    /// <summary>
    /// Binds <paramref name="address"/> as written in observability.metrics_port (":9090", "9090",
    /// "127.0.0.1:9090", "[::1]:9090", "host:9090") and starts serving. An empty host means every
    /// interface: [::] dual-stack (IPv4 too), or 0.0.0.0 where IPv6 is off.
    /// </summary>
    /// <exception cref="MetricsEndpointException">The address cannot be bound; the message says why and the fix.</exception>
    public static HttpEndpoint Start(string address, Func<HttpRequest, HttpResponse> handler, EventLog log, TimeSpan? timeout = null)
    {
        string text = address.Trim();
        if (text.Length > 0 && text.All(char.IsAsciiDigit)) text = ":" + text;
        if (!Aeterna.Addresses.ListenerAddress.TryParseEndpoint(text, "", allowEmptyHost: true, out string host, out int port, out string? message, out _))
            throw new MetricsEndpointException($"observability.metrics_port '{address}': {message}");
        Socket socket;
        try
        {
            socket = host.Length == 0 ? BindAny(port) : Bind(Resolve(host), port);
        }
        catch (SocketException e)
        {
            string fix = e.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => $"another process listens on port {port} (ss -ltnp 'sport = :{port}' shows which): stop it, or choose another port in observability.metrics_port",
                SocketError.AccessDenied => "ports below 1024 need root or CAP_NET_BIND_SERVICE; use a higher port in observability.metrics_port, e.g. \":9090\"",
                SocketError.AddressNotAvailable => $"{host} is not an address of this machine; use \":{port}\" (every interface), \"127.0.0.1:{port}\" or a local address",
                SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => $"the host name {host} does not resolve; use an IP address",
                _ => "check observability.metrics_port",
            };
            throw new MetricsEndpointException($"cannot serve metrics on observability.metrics_port '{address}': {e.Message}. Fix: {fix}.");
        }
        var endpoint = new HttpEndpoint(socket, handler, log, timeout ?? TimeSpan.FromSeconds(10));
        _ = endpoint.AcceptLoopAsync();
        return endpoint;
    }

    private static IPAddress Resolve(string host)
    {
        if (IPAddress.TryParse(host, out var ip)) return ip;
        var addresses = Dns.GetHostAddresses(host);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
            ?? throw new SocketException((int)SocketError.HostNotFound);
    }

    private static Socket BindAny(int port)
    {
        if (Socket.OSSupportsIPv6)
        {
            try { return Bind(IPAddress.IPv6Any, port, dualMode: true); }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressFamilyNotSupported or SocketError.AddressNotAvailable) { }
        }
        return Bind(IPAddress.Any, port);
    }

    private static Socket Bind(IPAddress ip, int port, bool dualMode = false)
    {
        var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (dualMode) socket.DualMode = true;
            // No SocketOptionName.ReuseAddress: on Linux .NET maps it to SO_REUSEPORT as well, which
            // would let a second supervisor listen on the same port and take half the scrapes.
            // (.NET already sets SO_REUSEADDR on listening sockets, so TIME_WAIT does not block a restart.)
            socket.Bind(new IPEndPoint(ip, port));
            socket.Listen(64);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_closing.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(_closing.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset or SocketError.TooManyOpenSockets)
            {
                if (e.SocketErrorCode == SocketError.TooManyOpenSockets) await Task.Delay(100).ConfigureAwait(false);
                continue;
            }
            catch (SocketException) { return; }
            if (!_connections.Wait(0))
            {
                // Over the cap: no buffer, no task, just the answer a client can understand.
                Refuse(client);
                continue;
            }
            _ = ServeAsync(client);
        }
    }

    private static void Refuse(Socket client)
    {
        using (client)
        {
            try
            {
                client.Blocking = false;
                client.Send(ResponseHead(HttpResponse.Text(503, "too many connections\n"), extra: "Retry-After: 1\r\n"), SocketFlags.None, out _);
                client.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException) { }
        }
    }

    private async Task ServeAsync(Socket client)
    {
        try
        {
            using (client)
            {
                client.NoDelay = true;
                HttpResponse? response;
                string method;
                using (var reading = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token))
                {
                    reading.CancelAfter(RequestTimeout);
                    (response, method) = await ReadAndHandleAsync(client, reading.Token).ConfigureAwait(false);
                }
                if (response is null) return; // the client left, or the server is closing
                using var writing = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token);
                writing.CancelAfter(RequestTimeout);
                try
                {
                    string extra = response.Status == 405 ? "Allow: GET, HEAD\r\n" : "";
                    await SendAllAsync(client, ResponseHead(response, extra), writing.Token).ConfigureAwait(false);
                    if (method != "HEAD" && response.Body.Length > 0)
                        await SendAllAsync(client, response.Body, writing.Token).ConfigureAwait(false);
                }
                finally { response.Release(); }
                // Half-close, then read what the client may still send until it closes: closing
                // with unread data would make the kernel send RST and could cost the client the response.
                client.Shutdown(SocketShutdown.Send);
                byte[] sink = _sink; // contents never read: one array for every connection
                writing.CancelAfter(TimeSpan.FromSeconds(1));
                while (await client.ReceiveAsync(sink, SocketFlags.None, writing.Token).ConfigureAwait(false) > 0) { }
            }
        }
        catch (OperationCanceledException) { }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
        finally
        {
            _connections.Release();
        }
    }

    private static async Task SendAllAsync(Socket client, ReadOnlyMemory<byte> data, CancellationToken cancel)
    {
        int sent = 0;
        while (sent < data.Length)
            sent += await client.SendAsync(data[sent..], SocketFlags.None, cancel).ConfigureAwait(false);
    }

    /// <summary>Reads the request head and answers it; null when there is no one to answer.</summary>
    private async Task<(HttpResponse? Response, string Method)> ReadAndHandleAsync(Socket client, CancellationToken cancel)
    {
        byte[] rented = ArrayPool<byte>.Shared.Rent(MaxRequestHeadBytes);
        try
        {
            return await ReadAndHandleAsync(client, rented.AsMemory(0, MaxRequestHeadBytes), cancel).ConfigureAwait(false);
        }
        finally { ArrayPool<byte>.Shared.Return(rented); }
    }

    private async Task<(HttpResponse? Response, string Method)> ReadAndHandleAsync(Socket client, Memory<byte> buffer, CancellationToken cancel)
    {
        int length = 0;
        int end;
        try
        {
            while ((end = buffer.Span[..length].IndexOf(HeadEnd)) < 0)
            {
                if (length == buffer.Length)
                {
                    int lineEnd = buffer.Span[..length].IndexOf((byte)'\n');
                    return lineEnd < 0
                        ? (HttpResponse.Text(414, $"request line longer than {MaxRequestHeadBytes} bytes\n"), "GET")
                        : (HttpResponse.Text(431, $"request head longer than {MaxRequestHeadBytes} bytes\n"), "GET");
                }
                int read = await client.ReceiveAsync(buffer[length..], SocketFlags.None, cancel).ConfigureAwait(false);
                if (read == 0) return (null, "GET");
                length += read;
            }
        }
        catch (OperationCanceledException) when (!_closing.IsCancellationRequested)
        {
            return (HttpResponse.Text(408, $"no complete request within {RequestTimeout.TotalSeconds:0.#} s\n"), "GET");
        }

        string head = Encoding.ASCII.GetString(buffer.Span[..end]);
        int firstLineEnd = head.IndexOf("\r\n", StringComparison.Ordinal);
        string requestLine = firstLineEnd < 0 ? head : head[..firstLineEnd];
        string[] parts = requestLine.Split(' ');
        if (parts.Length != 3 || parts[0].Length == 0 || !parts[0].All(char.IsAsciiLetterUpper))
            return (HttpResponse.Text(400, "malformed request line\n"), "GET");
        string method = parts[0], target = parts[1], version = parts[2];
        if (!version.StartsWith("HTTP/", StringComparison.Ordinal))
            return (HttpResponse.Text(400, "malformed request line\n"), "GET");
        if (version is not ("HTTP/1.1" or "HTTP/1.0"))
            return (HttpResponse.Text(505, "HTTP/1.0 and HTTP/1.1 only\n"), "GET");
        if (method is not ("GET" or "HEAD"))
            return (HttpResponse.Text(405, $"method {method} not allowed: GET or HEAD\n"), "GET");

        // origin-form "/metrics?x", or absolute-form "http://host:9090/metrics" (proxies).
        if (target.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            int slash = target.IndexOf('/', "http://".Length);
            target = slash < 0 ? "/" : target[slash..];
        }
        if (!target.StartsWith('/'))
            return (HttpResponse.Text(400, "the request target must be a path\n"), method);
        int question = target.IndexOf('?');
        var request = new HttpRequest(method, question < 0 ? target : target[..question], question < 0 ? "" : target[(question + 1)..]);
        try
        {
            return (_handler(request), method);
        }
        catch (Exception e)
        {
            // A bug in a handler must not take the supervisor down: it is logged and answered with 500.
            _log.Error("metrics.http", $"observability endpoint: {request.Path}: {e.GetType().Name}: {e.Message}");
            return (HttpResponse.Text(500, "internal error; see the supervisor's log\n"), method);
        }
    }

    private static byte[] ResponseHead(HttpResponse response, string extra)
    {
        var head = new StringBuilder(256);
        head.Append("HTTP/1.1 ").Append(response.Status).Append(' ').Append(Reason(response.Status)).Append("\r\n");
        head.Append("Date: ").Append(DateTime.UtcNow.ToString("r", CultureInfo.InvariantCulture)).Append("\r\n");
        head.Append("Content-Type: ").Append(response.ContentType).Append("\r\n");
        head.Append("Content-Length: ").Append(response.Body.Length).Append("\r\n");
        head.Append("Cache-Control: no-store\r\n");
        head.Append("Connection: close\r\n");
        head.Append(extra);
        head.Append("\r\n");
        return Encoding.ASCII.GetBytes(head.ToString());
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    };

    public void Dispose()
    {
        _closing.Cancel();
        _listener.Dispose();
    }
}

/// <summary>The metrics endpoint cannot be served as configured; the message says why and the fix.</summary>
internal sealed class MetricsEndpointException(string message) : Exception(message);
