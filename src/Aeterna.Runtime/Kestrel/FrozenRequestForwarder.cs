using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Aeterna.Kestrel;

/// <summary>
/// Serves requests that arrive on connections a frozen generation still holds (keep-alive
/// clients) by forwarding them to the next generation: it connects to the listener the request
/// came in on, which only the next generation accepts from now, and relays the response.
/// </summary>
/// <remarks>
/// Why forward instead of closing idle keep-alive connections at the freeze: closing races with
/// the client's next request, which then fails with a reset. Why not pass the connections
/// themselves over SCM_RIGHTS: the frozen generation's HTTP parser may already hold bytes of the
/// next request that the next generation would never see.
/// </remarks>
internal sealed class FrozenRequestForwarder : IDisposable
{
    /// <summary>The generations a request was forwarded by; a request is forwarded at most <see cref="MaxHops"/> times.</summary>
    public const string ForwardedHeader = "Aeterna-Forwarded-By";

    /// <summary>Two hops happen when a rollback hands state back while requests are in transit; more would be a loop.</summary>
    private const int MaxHops = 2;

    /// <summary>Request bodies up to this size are kept, so a request the next generation could not answer can be served here after a resume.</summary>
    private const int ReplayableBody = 1 << 20;

    private static readonly HttpRequestOptionsKey<EndPoint> Target = new("aeterna.target");

    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "TE", "Trailer", "Proxy-Authenticate", "Proxy-Authorization",
    };

    private readonly HttpMessageInvoker _client;
    private readonly string _generation;
    private long _forwarded;

    public FrozenRequestForwarder()
    {
        _generation = Environment.GetEnvironmentVariable("AETERNA_GENERATION") ?? "0";
        _client = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectCallback = ConnectAsync,
        });
    }

    /// <summary>Requests forwarded so far.</summary>
    public long Forwarded => Interlocked.Read(ref _forwarded);

    /// <summary>
    /// Forwards the request and writes the response; <paramref name="closeConnection"/> adds
    /// <c>Connection: close</c> (when draining). Returns false, with nothing written, when the next
    /// generation could not be reached or failed before answering and the request can be replayed.
    /// </summary>
    public async Task<bool> ForwardAsync(HttpContext context, bool closeConnection)
    {
        Interlocked.Increment(ref _forwarded);
        var request = context.Request;
        var response = context.Response;
        var hops = request.Headers[ForwardedHeader].ToString();
        if (hops.Split(',', StringSplitOptions.RemoveEmptyEntries).Length >= MaxHops
            || context.Features.Get<IConnectionSocketFeature>()?.Socket.LocalEndPoint is not { } local)
        {
            response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            response.Headers.Connection = "close";
            return true;
        }
        bool replayable = !HasBody(context) || request.ContentLength is <= ReplayableBody;
        if (replayable && HasBody(context)) request.EnableBuffering(ReplayableBody, ReplayableBody);
        using var outgoing = CreateRequest(context, Connectable(local), hops);
        HttpResponseMessage answer;
        try
        {
            answer = await _client.SendAsync(outgoing, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or IOException && !context.RequestAborted.IsCancellationRequested)
        {
            if (replayable) return false;
            response.StatusCode = StatusCodes.Status502BadGateway;
            response.Headers.Connection = "close";
            return true;
        }
        using (answer)
        {
            response.StatusCode = (int)answer.StatusCode;
            foreach (var (name, values) in answer.Headers.Concat(answer.Content.Headers))
                if (!HopByHop.Contains(name)) response.Headers[name] = values.ToArray();
            if (closeConnection && request.Protocol.StartsWith("HTTP/1", StringComparison.Ordinal))
                response.Headers.Connection = "close";
            await answer.Content.CopyToAsync(response.Body, context.RequestAborted).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>Makes a request the next generation could not answer readable again, to serve it here.</summary>
    public void Rewind(HttpContext context)
    {
        if (context.Request.Body.CanSeek) context.Request.Body.Position = 0;
    }

    private static bool HasBody(HttpContext context) =>
        context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0
        || context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true;

    private HttpRequestMessage CreateRequest(HttpContext context, EndPoint target, string hops)
    {
        var request = context.Request;
        var message = new HttpRequestMessage(new HttpMethod(request.Method),
            $"http://{(request.Host.HasValue ? request.Host.Value : "localhost")}{request.PathBase}{request.Path}{request.QueryString}")
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        message.Options.Set(Target, target);
        if (HasBody(context)) message.Content = new NonDisposingStreamContent(request.Body);
        foreach (var (name, values) in request.Headers)
        {
            if (HopByHop.Contains(name) || name.Equals("Host", StringComparison.OrdinalIgnoreCase) || name.Equals(ForwardedHeader, StringComparison.OrdinalIgnoreCase)) continue;
            if (!message.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values) && message.Content is not null)
                message.Content.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
        }
        message.Headers.TryAddWithoutValidation(ForwardedHeader, hops.Length == 0 ? _generation : $"{hops},{_generation}");
        return message;
    }

    /// <summary>The listener's own address, made connectable (a wildcard bind is reached on loopback).</summary>
    private static EndPoint Connectable(EndPoint local) => local switch
    {
        IPEndPoint ip when ip.Address.Equals(IPAddress.Any) => new IPEndPoint(IPAddress.Loopback, ip.Port),
        IPEndPoint ip when ip.Address.Equals(IPAddress.IPv6Any) => new IPEndPoint(IPAddress.IPv6Loopback, ip.Port),
        _ => local,
    };

    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancel)
    {
        var target = context.InitialRequestMessage.Options.TryGetValue(Target, out var endpoint) ? endpoint : context.DnsEndPoint;
        var socket = new Socket(target.AddressFamily, SocketType.Stream, target.AddressFamily == AddressFamily.Unix ? ProtocolType.Unspecified : ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(target, cancel).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Dispose() => _client.Dispose();

    /// <summary>Request content that leaves the request body open, so it can be rewound and replayed.</summary>
    private sealed class NonDisposingStreamContent(Stream body) : StreamContent(body)
    {
        protected override void Dispose(bool disposing) { }
    }
}
