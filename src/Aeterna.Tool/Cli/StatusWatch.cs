using System.Text.Json;
using Aeterna.Tool.Control;
using Spectre.Console;

namespace Aeterna.Tool.Cli;

/// <summary>
/// `status --watch`: asks the supervisor for its status once a second and redraws a live view
/// (Spectre.Console) until q, Esc or Ctrl-C. An unreachable supervisor is shown, not fatal: the view
/// keeps retrying and picks up the supervisor when it is back (e.g. after a restart). Without a
/// terminal (output redirected) it prints the plain status every second instead; with --json, one
/// JSON line per second.
/// </summary>
internal static class StatusWatch
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(3);

    public static async Task<int> RunAsync(FileInfo configFile, bool json)
    {
        string? socket = ControlSession.LocateSocket(configFile, Console.Error);
        if (socket is null) return ExitCodes.InvalidInput;

        using var quit = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true; // leave through the loop, so the terminal is restored
            quit.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            bool live = !json && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
            if (!live)
            {
                await PlainLoopAsync(socket, json, quit.Token);
                return ExitCodes.Ok;
            }
            var keys = Console.IsInputRedirected ? Task.CompletedTask : WatchKeysAsync(quit);
            StatusSnapshot? last = null;
            string? problem = null;
            DateTimeOffset? updatedAt = null;
            await AnsiConsole.Live(StatusView.Render(null, null, null))
                .AutoClear(false)
                .Overflow(VerticalOverflow.Ellipsis)
                .Cropping(VerticalOverflowCropping.Bottom)
                .StartAsync(async context =>
                {
                    while (!quit.IsCancellationRequested)
                    {
                        (var status, problem) = await FetchAsync(socket);
                        if (status is not null) (last, updatedAt) = (status, DateTimeOffset.Now);
                        context.UpdateTarget(StatusView.Render(last, problem, updatedAt));
                        context.Refresh();
                        try { await Task.Delay(Interval, quit.Token); }
                        catch (OperationCanceledException) { }
                    }
                });
            quit.Cancel();
            await keys;
            return ExitCodes.Ok;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>Without a terminal: the plain `status` text (or a JSON line) every second.</summary>
    private static async Task PlainLoopAsync(string socket, bool json, CancellationToken quit)
    {
        while (!quit.IsCancellationRequested)
        {
            var (status, problem) = await FetchAsync(socket);
            if (status is null) Console.Error.WriteLine($"{DateTimeOffset.Now:HH:mm:ss} {problem} (retrying)");
            else if (json) Console.WriteLine(JsonSerializer.Serialize(new ControlResponse(ControlResponse.StatusType, Status: status), ControlJson.Default.ControlResponse));
            else
            {
                Console.WriteLine($"--- {DateTimeOffset.Now:HH:mm:ss}");
                StatusCommand.Print(status, Console.Out);
            }
            Console.Out.Flush();
            try { await Task.Delay(Interval, quit); }
            catch (OperationCanceledException) { }
        }
    }

    /// <summary>One status request with a deadline; the snapshot, or why there is none.</summary>
    internal static async Task<(StatusSnapshot? Status, string? Problem)> FetchAsync(string socket)
    {
        try
        {
            return (await RequestAsync(socket).WaitAsync(RequestTimeout), null);
        }
        catch (SupervisorUnreachableException e) { return (null, e.Message); }
        catch (TimeoutException) { return (null, $"the supervisor did not answer within {RequestTimeout.TotalSeconds:0} s (control socket {socket})"); }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or JsonException or InvalidDataException)
        {
            return (null, $"lost the connection to the supervisor: {e.Message}");
        }
    }

    private static async Task<StatusSnapshot> RequestAsync(string socket)
    {
        await foreach (var response in ControlClient.SendAsync(socket, new ControlRequest("status")))
        {
            if (response.Status is { } status) return status;
            if (response.Error is { } error) throw new InvalidDataException(error);
        }
        throw new IOException("the supervisor closed the connection without an answer (it may be stopping)");
    }

    /// <summary>q, Q or Esc quits (Ctrl-C too, through CancelKeyPress).</summary>
    private static async Task WatchKeysAsync(CancellationTokenSource quit)
    {
        while (!quit.IsCancellationRequested)
        {
            try
            {
                while (Console.KeyAvailable)
                {
                    var key = Console.ReadKey(intercept: true);
                    if (key.Key is ConsoleKey.Q or ConsoleKey.Escape || (key.Key == ConsoleKey.C && key.Modifiers.HasFlag(ConsoleModifiers.Control)))
                    {
                        quit.Cancel();
                        return;
                    }
                }
            }
            catch (InvalidOperationException) { return; } // no keyboard after all
            try { await Task.Delay(50, quit.Token); }
            catch (OperationCanceledException) { return; }
        }
    }
}
