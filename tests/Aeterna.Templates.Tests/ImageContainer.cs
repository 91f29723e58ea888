using System.Diagnostics;
using Aeterna.Tests.Support;

namespace Aeterna.Templates.Tests;

/// <summary>
/// A container of an <see cref="ImageBuild"/>, made by hand: its own PID, mount and network
/// namespaces (<c>unshare --pid --fork --mount-proc --net</c>), a root of the image's files over
/// this machine's /usr and /etc, the image's USER, WORKDIR, ENV, and its ENTRYPOINT as PID 1.
/// The container port is published on a loopback port of the host (socat into the namespace, as
/// <c>docker run -p</c>); <see cref="ExecAsync"/> enters it as <c>docker exec</c>/<c>kubectl exec</c> do.
/// </summary>
public sealed class ImageContainer : IAsyncDisposable
{
    private readonly Process _unshare;
    private readonly List<string> _log = [];
    private readonly string _directory;
    private Process? _forward;
    private int _disposed;

    private ImageContainer(string name, string directory, ImageBuild image, Process unshare)
    {
        Name = name;
        _directory = directory;
        Image = image;
        _unshare = unshare;
    }

    public string Name { get; }

    public ImageBuild Image { get; }

    /// <summary>The container's root directory, as the host sees it.</summary>
    public string RootFs => Path.Combine(_directory, "rootfs");

    /// <summary>PID 1 of the container, as the host sees it.</summary>
    public int InitPid { get; private set; }

    /// <summary>The loopback port of the host published to the container's first EXPOSEd port.</summary>
    public int HostPort { get; private set; }

    public IReadOnlyList<string> Log { get { lock (_log) return [.. _log]; } }

    public bool HasExited => _unshare.HasExited;

    public static async Task<ImageContainer> StartAsync(ImageBuild image, string directory, string name)
    {
        Directory.CreateDirectory(directory);
        string rootfs = Path.Combine(directory, "rootfs");
        Directory.CreateDirectory(rootfs);
        ImageBuild.Cp(image.Files + "/.", rootfs);
        foreach (var dir in new[] { "usr", "etc", "dev", "proc", "tmp", "home/app" }) Directory.CreateDirectory(Path.Combine(rootfs, dir));
        foreach (var link in new[] { "bin", "lib", "lib64", "sbin" })
            if (Directory.Exists("/" + link)) File.CreateSymbolicLink(Path.Combine(rootfs, link), "usr/" + link);
        string[] user = image.User.Split(':');
        string uid = user[0], gid = user.Length > 1 ? user[1] : user[0];
        ImageBuild.Run("chown", $"{uid}:{gid}", Path.Combine(rootfs, "home/app"));

        string env = string.Join(' ', image.Env.Select(e => Quote($"{e.Key}={e.Value}")));
        string script = $"""
            set -e
            r={Quote(rootfs)}
            for d in usr etc dev; do mount --rbind /$d $r/$d; done
            mount -t proc proc $r/proc
            mount -t tmpfs -o mode=1777 tmpfs $r/tmp
            ip link set lo up
            exec chroot --userspec={uid}:{gid} $r /usr/bin/env -i -C {Quote(image.WorkDir)} {env} {string.Join(' ', image.Entrypoint.Select(Quote))}
            """;
        var start = new ProcessStartInfo("unshare") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in new[] { "--pid", "--fork", "--mount-proc", "--net", "--kill-child", "sh", "-c", script }) start.ArgumentList.Add(a);
        var container = new ImageContainer(name, directory, image, Process.Start(start)!);
        container._unshare.OutputDataReceived += (_, e) => container.Collect(e.Data);
        container._unshare.ErrorDataReceived += (_, e) => container.Collect(e.Data);
        container._unshare.BeginOutputReadLine();
        container._unshare.BeginErrorReadLine();
        await container.FindInitAsync();
        container.Publish(int.Parse(image.Exposed[0], System.Globalization.CultureInfo.InvariantCulture));
        return container;
    }

    private void Collect(string? line)
    {
        if (line is null) return;
        lock (_log) _log.Add($"[{Name}] {line}");
    }

    private async Task FindInitAsync()
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (_unshare.HasExited) throw new Xunit.Sdk.XunitException($"the container exited ({_unshare.ExitCode}) at once:\n{string.Join('\n', Log)}");
            string children = File.ReadAllText($"/proc/{_unshare.Id}/task/{_unshare.Id}/children").Trim();
            if (children.Length > 0)
            {
                int pid = int.Parse(children.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
                // Wait until the init has exec'd the entrypoint (it starts as the set-up shell).
                if (Cmdline(pid).StartsWith(Image.Entrypoint[0] + " ", StringComparison.Ordinal))
                {
                    InitPid = pid;
                    return;
                }
            }
            await Task.Delay(20);
        }
        throw new Xunit.Sdk.XunitException($"the container's init did not exec its entrypoint:\n{string.Join('\n', Log)}");
    }

    /// <summary>`docker run -p HOST:<paramref name="port"/>`: socat on the host's loopback, connecting inside the container's network namespace.</summary>
    private void Publish(int port)
    {
        HostPort = FreePort.Get();
        string forward = Path.Combine(_directory, "forward.sh");
        File.WriteAllText(forward, $"#!/bin/sh\nexec nsenter --target {InitPid} --net socat STDIO TCP:127.0.0.1:{port}\n");
        File.SetUnixFileMode(forward, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var start = new ProcessStartInfo("socat") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add($"TCP-LISTEN:{HostPort},bind=127.0.0.1,reuseaddr,fork");
        start.ArgumentList.Add($"EXEC:{forward}");
        _forward = Process.Start(start)!;
    }

    /// <summary>The command line of a process, as the host sees it.</summary>
    public static string Cmdline(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim(); }
        catch (IOException) { return ""; }
    }

    /// <summary>`docker exec`: <paramref name="argv"/> in the container's namespaces and root, as its user, with its environment and WORKDIR.</summary>
    public string[] ExecCommand(params string[] argv)
    {
        string[] user = Image.User.Split(':');
        return ["nsenter", "--target", InitPid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--mount", "--pid", "--net", "--root", "--wd",
            "--setuid", user[0], "--setgid", user.Length > 1 ? user[1] : user[0], "--",
            "/usr/bin/env", "-i", .. Image.Env.Select(e => $"{e.Key}={e.Value}"), .. argv];
    }

    public async Task<(int Code, string Output)> ExecAsync(params string[] argv)
    {
        var command = ExecCommand(argv);
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in command.Skip(1)) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>`docker stop`: the STOPSIGNAL to PID 1; the container's exit code once it has stopped.</summary>
    public async Task<int> StopAsync(int signal, TimeSpan timeout)
    {
        Assert.Equal(0, Posix.Kill(InitPid, signal));
        using var cts = new CancellationTokenSource(timeout);
        try { await _unshare.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"the container did not stop within {timeout.TotalSeconds} s:\n{string.Join('\n', Log)}");
        }
        return _unshare.ExitCode;
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        if (_forward is { HasExited: false }) _forward.Kill();
        if (!_unshare.HasExited)
        {
            if (InitPid > 0) Posix.Kill(InitPid, Posix.SIGKILL);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try { await _unshare.WaitForExitAsync(cts.Token); }
            catch (OperationCanceledException) { _unshare.Kill(entireProcessTree: true); }
        }
        _unshare.Dispose();
        _forward?.Dispose();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
