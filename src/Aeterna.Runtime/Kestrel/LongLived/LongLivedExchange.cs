using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Aeterna.Kestrel.LongLived;

/// <summary>
/// One request, watched for the moment it becomes long-lived: its upgrade (a WebSocket, or any
/// 101) or its response body (flushed and still written) tell it. At that moment it stops counting
/// as in flight (<see cref="HoldInFlight"/>) and joins <see cref="LongLivedConnections"/>, which
/// can end it. Installed by <see cref="RequestGate"/> in front of the app: it stands in for the
/// server's upgrade, extended CONNECT, response body and request lifetime features.
/// </summary>
internal sealed class LongLivedExchange : IHttpUpgradeFeature, IHttpExtendedConnectFeature, IHttpRequestLifetimeFeature
{
    private readonly HttpContext _context;
    private readonly LongLivedConnections _registry;
    private readonly IHttpUpgradeFeature? _upgrade;
    private readonly IHttpExtendedConnectFeature? _connect;
    private readonly IHttpRequestLifetimeFeature _lifetime;
    private readonly StreamingResponseBody? _body;
    private readonly Lock _lock = new();
    private Action? _leaveInFlight;
    private TaskCompletionSource? _finished;
    private WebSocketStream? _webSocket;
    private CancellationTokenSource? _aborted;
    private CancellationToken? _abortedSetByApp;
    private bool _ended;

    public LongLivedExchange(HttpContext context, LongLivedConnections registry)
    {
        _context = context;
        _registry = registry;
        var features = context.Features;
        _lifetime = features.GetRequiredFeature<IHttpRequestLifetimeFeature>();
        features.Set<IHttpRequestLifetimeFeature>(this);
        if (features.Get<IHttpResponseBodyFeature>() is { } body)
        {
            _body = new StreamingResponseBody(body, this, context.Response);
            features.Set<IHttpResponseBodyFeature>(_body);
        }
        if (features.Get<IHttpUpgradeFeature>() is { } upgrade)
        {
            _upgrade = upgrade;
            features.Set<IHttpUpgradeFeature>(this);
        }
        if (features.Get<IHttpExtendedConnectFeature>() is { } connect)
        {
            _connect = connect;
            features.Set<IHttpExtendedConnectFeature>(this);
        }
    }

    /// <summary>What made it long-lived; <see cref="LongLivedKind.None"/> while it is an ordinary request.</summary>
    public LongLivedKind Kind { get; private set; }

    /// <summary>The lame duck ended it (the client got its ending): what the app's handler throws from now on is expected.</summary>
    public bool Ended
    {
        get { lock (_lock) return _ended; }
    }

    /// <summary>Completes when the request has finished (its handler returned); only asked of long-lived ones.</summary>
    public Task Finished => _finished?.Task ?? Task.CompletedTask;

    /// <summary>A WebSocket handshake (HTTP/1.1 <c>Upgrade: websocket</c>, or HTTP/2's extended CONNECT for <c>websocket</c>).</summary>
    public bool IsWebSocketRequest =>
        (_upgrade?.IsUpgradableRequest == true && _context.Request.Headers.Upgrade.ToString().Contains("websocket", StringComparison.OrdinalIgnoreCase))
        || (_connect?.IsExtendedConnect == true && string.Equals(_connect.Protocol, "websocket", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The request counts as in flight until it finishes or becomes long-lived, whichever is first:
    /// <paramref name="leave"/> runs once, then.
    /// </summary>
    public void HoldInFlight(Action leave) => _leaveInFlight = leave;

    /// <summary>Runs the leave action of <see cref="HoldInFlight"/> unless it already ran.</summary>
    public void LeaveInFlight() => Interlocked.Exchange(ref _leaveInFlight, null)?.Invoke();

    /// <summary>The request is long-lived from now on (the first call decides its kind).</summary>
    internal void BecameLongLived(LongLivedKind kind)
    {
        lock (_lock)
        {
            if (Kind != LongLivedKind.None) return;
            Kind = kind;
            _finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        LeaveInFlight();
        _registry.Add(this);
    }

    /// <summary>The request has finished: it leaves the count and the registry.</summary>
    public void Finish()
    {
        LeaveInFlight();
        CancellationTokenSource? aborted;
        lock (_lock) aborted = _aborted;
        // Always: the linked token is registered on the server's, which the server reuses.
        aborted?.Dispose();
        if (Kind == LongLivedKind.None) return;
        _registry.Remove(this);
        _finished!.TrySetResult();
    }

    /// <summary>
    /// Ends a long-lived request properly: a WebSocket gets its close frame 1012 (the app's own
    /// close handshake finishes it), a stream its end at the next boundary, after which the
    /// handler's RequestAborted fires; any other upgraded connection is closed. A WebSocket's close
    /// waits up to <paramref name="patience"/> for the app to have answered what it read.
    /// </summary>
    public async Task EndAsync(TimeSpan patience)
    {
        switch (Kind)
        {
            case LongLivedKind.WebSocket:
                await _webSocket!.CloseAsync(WebSocketStream.ServiceRestart, "service restart", patience).ConfigureAwait(false);
                MarkEnded(cancelHandler: false);
                break;
            case LongLivedKind.Stream:
                await _body!.EndAsync().ConfigureAwait(false);
                MarkEnded(cancelHandler: true);
                break;
            case LongLivedKind.Upgraded:
                MarkEnded(cancelHandler: false);
                Abort();
                break;
        }
    }

    private void MarkEnded(bool cancelHandler)
    {
        CancellationTokenSource? aborted;
        lock (_lock)
        {
            _ended = true;
            aborted = cancelHandler ? _aborted : null;
        }
        try { aborted?.Cancel(); }
        catch (ObjectDisposedException) { } // the request finished meanwhile
    }

    /// <summary>Aborts the connection (HTTP/2: the stream), the way the server itself would.</summary>
    public void Abort() => _lifetime.Abort();

    bool IHttpUpgradeFeature.IsUpgradableRequest => _upgrade!.IsUpgradableRequest;

    async Task<Stream> IHttpUpgradeFeature.UpgradeAsync()
    {
        var stream = await _upgrade!.UpgradeAsync().ConfigureAwait(false);
        return Upgraded(stream, _context.Request.Headers.Upgrade.ToString().Contains("websocket", StringComparison.OrdinalIgnoreCase));
    }

    bool IHttpExtendedConnectFeature.IsExtendedConnect => _connect!.IsExtendedConnect;

    string? IHttpExtendedConnectFeature.Protocol => _connect!.Protocol;

    async ValueTask<Stream> IHttpExtendedConnectFeature.AcceptAsync()
    {
        var stream = await _connect!.AcceptAsync().ConfigureAwait(false);
        return Upgraded(stream, string.Equals(_connect.Protocol, "websocket", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The 101 (or the 200 of an extended CONNECT) is sent: the connection is long-lived from here.</summary>
    private Stream Upgraded(Stream stream, bool webSocket)
    {
        if (webSocket) stream = _webSocket = new WebSocketStream(stream);
        BecameLongLived(webSocket ? LongLivedKind.WebSocket : LongLivedKind.Upgraded);
        return stream;
    }

    CancellationToken IHttpRequestLifetimeFeature.RequestAborted
    {
        get
        {
            lock (_lock)
            {
                if (_abortedSetByApp is { } set) return set;
                if (_ended && Kind == LongLivedKind.Stream) return new CancellationToken(canceled: true);
                // Linked lazily, as the server's own token is: most requests never ask for it.
                _aborted ??= CancellationTokenSource.CreateLinkedTokenSource(_lifetime.RequestAborted);
                return _aborted.Token;
            }
        }
        set
        {
            lock (_lock) _abortedSetByApp = value;
            _lifetime.RequestAborted = value;
        }
    }

    void IHttpRequestLifetimeFeature.Abort() => _lifetime.Abort();
}
