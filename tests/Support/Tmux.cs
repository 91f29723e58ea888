using System.Diagnostics;

namespace Aeterna.Tests.Support;

/// <summary>
/// A real terminal for CLI views: a detached tmux session on a private server (-L, so nothing of
/// the user's tmux is touched), read back with capture-pane. The server is killed at dispose.
/// </summary>
internal sealed class Tmux : IAsyncDisposable
{
    private readonly string _server = "aeterna-test-" + Guid.NewGuid().ToString("N")[..12];

    public const string Session = "view";

    private Tmux() { }

    /// <summary>Runs <paramref name="shellCommand"/> in a new <paramref name="width"/>×<paramref name="height"/> terminal.</summary>
    public static async Task<Tmux> StartAsync(string shellCommand, int width = 200, int height = 60)
    {
        var tmux = new Tmux();
        var (code, output) = await tmux.RunAsync("new-session", "-d", "-s", Session, "-x", width.ToString(), "-y", height.ToString(),
            $"export LANG=C.UTF-8 TERM=xterm-256color; {shellCommand}");
        if (code != 0) throw new Xunit.Sdk.XunitException($"tmux new-session failed ({code}): {output}");
        return tmux;
    }

    /// <summary>The visible screen, as text.</summary>
    public async Task<string> CaptureAsync()
    {
        var (code, output) = await RunAsync("capture-pane", "-p", "-t", Session);
        return code == 0 ? output : "";
    }

    /// <summary>Waits until the screen satisfies <paramref name="condition"/>; fails with the last screen otherwise.</summary>
    public async Task<string> WaitForAsync(Func<string, bool> condition, string what, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        string screen = "";
        while (clock.Elapsed < (timeout ?? TimeSpan.FromSeconds(30)))
        {
            screen = await CaptureAsync();
            if (condition(screen)) return screen;
            await Task.Delay(100);
        }
        throw new Xunit.Sdk.XunitException($"the terminal never showed {what}; last screen:\n{screen}");
    }

    /// <summary>tmux send-keys: "q", "C-c", …</summary>
    public async Task SendKeysAsync(params string[] keys)
    {
        var (code, output) = await RunAsync(["send-keys", "-t", Session, .. keys]);
        if (code != 0) throw new Xunit.Sdk.XunitException($"tmux send-keys failed ({code}): {output}");
    }

    private async Task<(int Code, string Output)> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-L");
        start.ArgumentList.Add(_server);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    public async ValueTask DisposeAsync() => await RunAsync("kill-server");
}
