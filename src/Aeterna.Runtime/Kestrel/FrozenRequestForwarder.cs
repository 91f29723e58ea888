using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Aeterna.Kestrel;

/// <summary>
/// Serves requests that arrive on connections a frozen generation still holds (keep-alive
/// clients) by forwarding them to the next generation: it connects to the listener the request
/// came in on, which the next generation accepts from, and relays the response with
/// <c>Connection: close</c> so the client moves to the next generation for its next request.
/// </summary>
/// <remarks>
/// Why forward instead of closing idle keep-alive connections at the freeze: closing races with
/// the client's next request, which then fails with a reset. Why not pass the connections
/// themselves over SCM_RIGHTS: the frozen generation's HTTP parser may already hold bytes of the
/// next request that the next generation would never see.
/// </remarks>
internal sealed class FrozenRequestForwarder : IDisposable
{
    /// <summary>Marks a forwarded request, so that a request can never be forwarded twice.</summary>
    public const string ForwardedHeader = "Aeterna-Forwarded-By";

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

    public async Task ForwardAsync(HttpContext context)
    {
        Interlocked.Increment(ref _forwarded);
        var response = context.Response;
        if (context.Request.Headers.ContainsKey(ForwardedHeader) || context.Features.Get<IConnectionSocketFeature>()?.Socket.LocalEndPoint is not { } local)
        {
            response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            response.Headers.Connection = "close";
            return;
        }
        using var outgoing = CreateRequest(context, Connectable(local));
        try
        {
            using var answer = await _client.SendAsync(outgoing, context.RequestAborted).ConfigureAwait(false);
            response.StatusCode = (int)answer.StatusCode;
            foreach (var (name, values) in answer.Headers.Concat(answer.Content.Headers))
                if (!HopByHop.Contains(name)) response.Headers[name] = values.ToArray();
            if (context.Request.Protocol.StartsWith("HTTP/1", StringComparison.Ordinal))
                response.Headers.Connection = "close";
            await answer.Content.CopyToAsync(response.Body, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or IOException && !response.HasStarted)
        {
            response.StatusCode = StatusCodes.Status502BadGateway;
            response.Headers.Connection = "close";
        }
    }

    private HttpRequestMessage CreateRequest(HttpContext context, EndPoint target)
    {
        var request = context.Request;
        var message = new HttpRequestMessage(new HttpMethod(request.Method),
            $"http://{(request.Host.HasValue ? request.Host.Value : "localhost")}{request.PathBase}{request.Path}{request.QueryString}")
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        message.Options.Set(Target, target);
        bool hasBody = request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0
            || context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true;
        if (hasBody) message.Content = new StreamContent(request.Body);
        foreach (var (name, values) in request.Headers)
        {
            if (HopByHop.Contains(name) || name.Equals("Host", StringComparison.OrdinalIgnoreCase)) continue;
            if (!message.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values) && message.Content is not null)
                message.Content.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
        }
        message.Headers.TryAddWithoutValidation(ForwardedHeader, _generation);
        message.Headers.ConnectionClose = true; // no pooling: the next connection may land elsewhere
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
}
