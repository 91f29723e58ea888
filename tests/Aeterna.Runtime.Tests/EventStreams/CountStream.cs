using System.Collections.Concurrent;
using System.Globalization;

namespace Aeterna.Runtime.Tests.EventStreams;

/// <summary>Where a counting stream is: the next number, how many it sends, and the path it was asked on.</summary>
public sealed partial class CountSession
{
    [RelayState] public int Next { get; set; }

    [RelayState] public int Total { get; set; }

    [RelayState] public string Path { get; set; } = "";
}

/// <summary>
/// <c>/count/{n}</c>: n events <c>data: {generation} {i}</c> (id i), <paramref name="delayMs"/>
/// apart, then <c>event: done</c>; <c>/missing</c> is refused with 404, <c>/echo</c> answered whole
/// with its body. Records how each stream ended in this generation.
/// </summary>
internal sealed class CountStream(int generation, int delayMs = 20) : RelayEventStreamHandler<CountSession>
{
    public ConcurrentQueue<(string Path, int Next, RelayStreamEnd End)> Ended { get; } = new();

    public override ValueTask<RelayStreamStart> OnStartAsync(RelayHttpRequest request, CountSession session)
    {
        if (request.Path == "/echo")
            return new(RelayStreamStart.Respond(200, "application/octet-stream", request.Body).WithHeader("X-Generation", generation.ToString(CultureInfo.InvariantCulture)));
        if (!request.Path.StartsWith("/count/", StringComparison.Ordinal) || !int.TryParse(request.Path["/count/".Length..], CultureInfo.InvariantCulture, out int total))
            return new(RelayStreamStart.Refuse(404, $"no {request.Path} here"));
        session.Total = total;
        session.Path = request.Path;
        return new(RelayStreamStart.Stream());
    }

    public override async ValueTask<bool> OnNextEventAsync(RelayEventWriter events, CountSession session, CancellationToken pause)
    {
        if (session.Next > 0 && delayMs > 0) await Task.Delay(delayMs, pause);
        if (session.Next == session.Total)
        {
            events.WriteEvent(session.Total.ToString(CultureInfo.InvariantCulture), name: "done");
            return false;
        }
        events.WriteEvent($"{generation} {session.Next}", id: session.Next.ToString(CultureInfo.InvariantCulture));
        session.Next++;
        return true;
    }

    public override ValueTask OnEndAsync(CountSession session, RelayStreamEnd end)
    {
        Ended.Enqueue((session.Path, session.Next, end));
        return default;
    }
}
