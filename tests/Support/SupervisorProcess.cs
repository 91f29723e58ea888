using System.Diagnostics;
using System.Text.Json;
using Xunit.Abstractions;

namespace Aeterna.Tests.Support;

/// <summary>
/// A real `dotnet-aeterna start` process on a config in a temp directory, with its stderr
/// collected line by line, and the CLI's other commands run against it.
/// </summary>
internal sealed class SupervisorProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _log = [];
    private readonly ITestOutputHelper? _output;

    public string ConfigPath { get; }

    public int Pid => _process.Id;

    private SupervisorProcess(Process process, string configPath, ITestOutputHelper? output)
    {
        _process = process;
        ConfigPath = configPath;
        _output = output;
    }

    /// <summary>The built tool: src/Aeterna.Tool/bin/&lt;configuration&gt;/net10.0/dotnet-aeterna.dll.</summary>
    public static string ToolDll => Path.Combine(Repo.Root, "src", "Aeterna.Tool", "bin", Repo.Configuration, "net10.0", "dotnet-aeterna.dll");

    /// <summary>Starts a supervisor; <paramref name="prefix"/> runs it under another program (e.g. unshare).</summary>
    public static SupervisorProcess Start(string configPath, ITestOutputHelper? output = null, IReadOnlyList<string>? prefix = null, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        var argv = new List<string>(prefix ?? []) { "dotnet", ToolDll, "start", "-c", configPath };
        start.FileName = argv[0];
        foreach (var a in argv.Skip(1)) start.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) start.Environment[k] = v;
        var process = Process.Start(start)!;
        var supervisor = new SupervisorProcess(process, configPath, output);
        process.ErrorDataReceived += (_, e) => supervisor.Collect(e.Data);
        process.OutputDataReceived += (_, e) => supervisor.Collect(e.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        return supervisor;
    }

    private void Collect(string? line)
    {
        if (line is null) return;
        lock (_log) _log.Add(line);
        try { _output?.WriteLine(line); } catch (InvalidOperationException) { } // the test already ended
    }

    public IReadOnlyList<string> Log { get { lock (_log) return [.. _log]; } }

    /// <summary>Waits until a log line contains <paramref name="text"/>; fails with the whole log otherwise.</summary>
    public async Task<string> WaitForLogAsync(string text, TimeSpan? timeout = null, int occurrence = 1)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < (timeout ?? TimeSpan.FromSeconds(30)))
        {
            var matches = Log.Where(l => l.Contains(text, StringComparison.Ordinal)).ToList();
            if (matches.Count >= occurrence) return matches[occurrence - 1];
            if (_process.HasExited && matches.Count < occurrence)
                throw new Xunit.Sdk.XunitException($"supervisor exited ({_process.ExitCode}) before logging '{text}':\n{string.Join('\n', Log)}");
            await Task.Delay(25);
        }
        throw new Xunit.Sdk.XunitException($"no log line with '{text}' within {timeout ?? TimeSpan.FromSeconds(30)}:\n{string.Join('\n', Log)}");
    }

    /// <summary>Waits until the supervisor reports an active, ready generation.</summary>
    public async Task<JsonElement> WaitForActiveAsync(int? generation = null, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < (timeout ?? TimeSpan.FromSeconds(30)))
        {
            if (_process.HasExited)
                throw new Xunit.Sdk.XunitException($"supervisor exited ({_process.ExitCode}):\n{string.Join('\n', Log)}");
            var (code, stdout, _) = await ToolCli.RunAsync("status", "-c", ConfigPath, "--json");
            if (code == 0)
            {
                var status = JsonDocument.Parse(stdout).RootElement.GetProperty("status");
                if (status.TryGetProperty("active_generation", out var active) && active.ValueKind == JsonValueKind.Number
                    && (generation is null || active.GetInt32() == generation))
                    return status;
            }
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException($"no active generation{(generation is null ? "" : $" {generation}")} within the timeout:\n{string.Join('\n', Log)}");
    }

    public async Task<JsonElement> StatusAsync()
    {
        var (code, stdout, stderr) = await ToolCli.RunAsync("status", "-c", ConfigPath, "--json");
        Xunit.Assert.True(code == 0, $"status failed ({code}): {stderr}");
        return JsonDocument.Parse(stdout).RootElement.GetProperty("status");
    }

    /// <summary>Runs `relay --json` and returns the exit code and the report.</summary>
    public async Task<(int Code, JsonElement Report)> RelayAsync(params string[] extra)
    {
        var (code, stdout, stderr) = await ToolCli.RunAsync(["relay", "-c", ConfigPath, "--json", .. extra]);
        var line = stdout.Split('\n').LastOrDefault(l => l.Contains("\"report\"", StringComparison.Ordinal));
        if (line is null)
            throw new Xunit.Sdk.XunitException($"relay printed no report (exit {code}):\n{stdout}\n{stderr}\nsupervisor log:\n{string.Join('\n', Log)}");
        return (code, JsonDocument.Parse(line).RootElement.GetProperty("report"));
    }

    /// <summary>
    /// A relay with --soak 0 straight over the control socket (the product's own client), without
    /// starting a CLI process: for tests that relay a hundred times.
    /// </summary>
    public async Task<string> RelayOverSocketAsync()
    {
        string socket = Aeterna.Tool.Configuration.ConfigLoader.Load(ConfigPath).ControlSocketPath!;
        await foreach (var response in Aeterna.Tool.Control.ControlClient.SendAsync(socket, new Aeterna.Tool.Control.ControlRequest("relay", 0)))
            if (response.Report is { } report) return report.Outcome;
        throw new Xunit.Sdk.XunitException("the supervisor sent no relay report");
    }

    public void Signal(int signal) => Xunit.Assert.Equal(0, Posix.Kill(_process.Id, signal));

    public bool HasExited => _process.HasExited;

    /// <summary>Waits for the supervisor to exit and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try { await _process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"supervisor did not exit in time:\n{string.Join('\n', Log)}");
        }
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Posix.Kill(_process.Id, 15);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try { await _process.WaitForExitAsync(cts.Token); }
            catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); }
        }
        _process.Dispose();
    }
}
