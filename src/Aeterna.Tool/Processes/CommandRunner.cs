using System.Diagnostics;
using System.Text;
using Aeterna.Interop;
using Microsoft.Win32.SafeHandles;

namespace Aeterna.Tool.Processes;

/// <summary>What a short-lived command did: whether it exited 0, how, how long it took, and the end of its output.</summary>
internal sealed record CommandResult(bool Ok, string Status, double Milliseconds, string Output);

/// <summary>
/// Runs a short-lived command (a pre-flight check, a canary probe) with a timeout, its stdout and
/// stderr captured (the last 16 KiB, where errors are). A command that times out is killed with
/// its whole process group.
/// </summary>
internal sealed class CommandRunner(ProcessSpawner spawner)
{
    private const int OutputTail = 16 * 1024;

    public async Task<CommandResult> RunAsync(IReadOnlyList<string> command, IReadOnlyList<string> environment, string workingDirectory, TimeSpan timeout, CancellationToken cancel)
    {
        var started = Stopwatch.GetTimestamp();
        var (readFd, writeFd) = Libc.Pipe();
        SpawnedProcess process;
        try
        {
            process = await spawner.SpawnAsync(new SpawnSpec(command[0], command.Skip(1).ToArray(), environment, workingDirectory, [], writeFd, writeFd)).ConfigureAwait(false);
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
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(timeout);
        try
        {
            var exit = await process.Exited.WaitAsync(deadline.Token).ConfigureAwait(false);
            ok = exit is { Signaled: false, Code: 0 };
            status = exit.ToString();
        }
        catch (OperationCanceledException)
        {
            Libc.Kill(-process.Pid, Libc.SIGKILL);
            await process.Exited.ConfigureAwait(false);
            ok = false;
            status = cancel.IsCancellationRequested ? "cancelled: the supervisor is stopping" : $"timed out after {timeout.TotalSeconds:0.###} s";
        }
        // Grandchildren may hold the pipe open: don't wait for them longer than a moment.
        await Task.WhenAny(reading, Task.Delay(500)).ConfigureAwait(false);
        string text = reading.IsCompletedSuccessfully ? reading.Result : "(output still open: a background process kept the pipe)";
        return new CommandResult(ok, status, Stopwatch.GetElapsedTime(started).TotalMilliseconds, text);
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
}
