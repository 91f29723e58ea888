using System.Diagnostics;
using System.Text;
using Aeterna.Tool.Configuration;
using Aeterna.Interop;
using Aeterna.Tool.Processes;
using Microsoft.Win32.SafeHandles;

namespace Aeterna.Tool.Relay;

/// <summary>
/// Step 2 of a relay: the built-in checks, then the configured pre-flight commands, each with a
/// timeout. Any failure refuses the relay before anything is started.
/// </summary>
internal sealed class PreflightRunner(ProcessSpawner spawner)
{
    /// <summary>How much of a command's output the report keeps (the end, where errors are).</summary>
    private const int OutputTail = 16 * 1024;

    /// <summary>
    /// Runs every check; throws <see cref="RelayFailedException"/> (Refused) at the first failure.
    /// <paramref name="runningSchema"/> is the running generation's state schema, if it sent one.
    /// </summary>
    public async Task RunAsync(AeternaConfig config, string? runningSchema, List<PreflightResult> results, CancellationToken cancel)
    {
        var started = Stopwatch.GetTimestamp();
        string? problem = CommandResolver.Problem(config.Service.Command[0], config.Service.WorkingDirectory, PathOf(config));
        results.Add(new PreflightResult($"built-in: '{config.Service.Command[0]}' is executable", problem is null,
            problem ?? "ok", Stopwatch.GetElapsedTime(started).TotalMilliseconds, ""));
        if (problem is not null)
            throw new RelayFailedException(RelayOutcome.Refused, $"pre-flight: {problem}");

        results.Add(SchemaPreflight.Check(runningSchema, config, out string? refusal));
        if (refusal is not null)
            throw new RelayFailedException(RelayOutcome.Refused, refusal);

        foreach (var check in config.Orchestration.Preflight)
        {
            var result = await RunOneAsync(check, config, cancel);
            results.Add(result);
            if (!result.Ok)
                throw new RelayFailedException(RelayOutcome.Refused, $"pre-flight command '{result.Command}' failed: {result.Status}");
        }
    }

    private async Task<PreflightResult> RunOneAsync(PreflightCommand check, AeternaConfig config, CancellationToken cancel)
    {
        string commandLine = string.Join(' ', check.Command);
        var started = Stopwatch.GetTimestamp();
        string? problem = CommandResolver.Problem(check.Command[0], config.Service.WorkingDirectory, PathOf(config));
        if (problem is not null)
            return new PreflightResult(commandLine, false, problem, 0, "");

        var (readFd, writeFd) = Libc.Pipe();
        SpawnedProcess process;
        try
        {
            var env = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
                .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "");
            foreach (var (key, value) in config.Service.Environment) env[key] = value;
            env["AETERNA_PREFLIGHT"] = "1";
            process = await spawner.SpawnAsync(new SpawnSpec(check.Command[0], check.Command.Skip(1).ToArray(),
                env.Select(kv => $"{kv.Key}={kv.Value}").ToArray(), config.Service.WorkingDirectory, [], writeFd, writeFd));
        }
        catch
        {
            Libc.Close(readFd);
            throw;
        }
        finally
        {
            Libc.Close(writeFd);
        }

        using var output = new FileStream(new SafeFileHandle(readFd, ownsHandle: true), FileAccess.Read, 1, isAsync: false);
        var reading = Task.Run(() => ReadTail(output));
        string status;
        bool ok;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timeout.CancelAfter(check.Timeout);
        try
        {
            var exit = await process.Exited.WaitAsync(timeout.Token);
            ok = exit is { Signaled: false, Code: 0 };
            status = exit.ToString();
        }
        catch (OperationCanceledException)
        {
            Libc.Kill(-process.Pid, Libc.SIGKILL);
            await process.Exited;
            ok = false;
            status = cancel.IsCancellationRequested ? "cancelled: the supervisor is stopping" : $"timed out after {check.Timeout.TotalSeconds:0.###} s";
        }
        // Grandchildren may hold the pipe open: don't wait for them longer than a moment.
        await Task.WhenAny(reading, Task.Delay(500));
        string text = reading.IsCompletedSuccessfully ? reading.Result : "(output still open: a background process kept the pipe)";
        return new PreflightResult(commandLine, ok, status, Stopwatch.GetElapsedTime(started).TotalMilliseconds, text);
    }

    private static string ReadTail(Stream stream)
    {
        var tail = new byte[OutputTail];
        var chunk = new byte[4096];
        int length = 0;
        int read;
        while ((read = stream.Read(chunk)) > 0)
        {
            if (length + read > tail.Length)
            {
                int drop = length + read - tail.Length;
                Buffer.BlockCopy(tail, drop, tail, 0, length - drop);
                length -= drop;
            }
            Buffer.BlockCopy(chunk, 0, tail, length, read);
            length += read;
        }
        return Encoding.UTF8.GetString(tail, 0, length);
    }

    private static string PathOf(AeternaConfig config) =>
        config.Service.Environment.LastOrDefault(e => e.Key == "PATH").Value
        ?? Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
}
