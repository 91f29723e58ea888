using System.Globalization;
using System.Runtime.InteropServices;
using Aeterna.Tool.Sockets;

namespace Aeterna.Tool.Readiness;

/// <summary>
/// Tells from /proc whether a generation waits for connections on its listeners: the readiness
/// signal for apps that never send READY=1.
/// </summary>
/// <remarks>
/// A probe through the shared listener cannot tell which generation answered, since both accept
/// from one queue. What can be told per generation is whether one of its processes (its process
/// group) is waiting on the listening socket, in one of the three ways servers wait:
/// <list type="bullet">
/// <item>an epoll set that holds the socket with EPOLLIN (/proc/PID/fdinfo of each epoll fd lists
/// its targets with their inode): .NET, Go, Node, nginx, Python asyncio;</item>
/// <item>a thread blocked in accept/accept4 on it (/proc/PID/task/TID/syscall);</item>
/// <item>a thread blocked in poll/ppoll/select/pselect6 with it in the set (the set is read from
/// /proc/PID/mem, which a parent may read): Python's socketserver, gunicorn's sync workers.</item>
/// </list>
/// Sockets are matched by inode, so dup'ed or renumbered fds count too.
/// </remarks>
internal static class ListeningDetector
{
    private const uint EPOLLIN = 0x1;
    private const short POLLIN = 0x1;

    /// <summary>True when, for every listener, some process of group <paramref name="pgid"/> waits on it.</summary>
    public static bool IsListening(int pgid, IReadOnlyList<BoundListener> listeners)
    {
        var waiting = new HashSet<long>();
        foreach (int pid in ProcessGroupMembers(pgid))
        {
            CollectWaitingSockets(pid, waiting);
            if (listeners.All(l => waiting.Contains(l.Inode))) return true;
        }
        return false;
    }

    internal static IEnumerable<int> ProcessGroupMembers(int pgid)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            string stat;
            try { stat = File.ReadAllText($"{dir}/stat"); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            // Fields after the parenthesised command name: state ppid pgrp …
            int close = stat.LastIndexOf(')');
            var fields = stat[(close + 2)..].Split(' ');
            if (fields.Length > 2 && int.TryParse(fields[2], out int group) && group == pgid)
                yield return pid;
        }
    }

    private static void CollectWaitingSockets(int pid, HashSet<long> waiting)
    {
        var socketByFd = new Dictionary<long, long>();
        var epollFds = new List<string>();
        try
        {
            foreach (var link in Directory.EnumerateFiles($"/proc/{pid}/fd"))
            {
                string? target = new FileInfo(link).LinkTarget;
                if (!long.TryParse(Path.GetFileName(link), out long fd) || target is null) continue;
                if (target == "anon_inode:[eventpoll]") epollFds.Add(Path.GetFileName(link));
                else if (SocketInode.Parse(target) is > 0 and var inode) socketByFd[fd] = inode;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }

        foreach (var epfd in epollFds)
            CollectEpollTargets(pid, epfd, waiting);
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
                CollectBlockedSyscall(pid, task, socketByFd, waiting);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>fdinfo of an epoll fd: "tfd:        3 events:       19 data: … ino:1a2b sdev:8".</summary>
    private static void CollectEpollTargets(int pid, string epfd, HashSet<long> waiting)
    {
        string[] lines;
        try { lines = File.ReadAllLines($"/proc/{pid}/fdinfo/{epfd}"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
        foreach (var line in lines)
        {
            if (!line.StartsWith("tfd:", StringComparison.Ordinal)) continue;
            string? events = Field(line, "events:"), ino = Field(line, "ino:");
            if (events is not null && ino is not null
                && uint.TryParse(events, NumberStyles.HexNumber, null, out uint mask) && (mask & EPOLLIN) != 0
                && long.TryParse(ino, NumberStyles.HexNumber, null, out long inode))
                waiting.Add(inode);
        }
    }

    private static string? Field(string line, string name)
    {
        int at = line.IndexOf(name, StringComparison.Ordinal);
        if (at < 0) return null;
        var rest = line.AsSpan(at + name.Length).TrimStart();
        int end = rest.IndexOf(' ');
        return (end < 0 ? rest : rest[..end]).ToString();
    }

    /// <summary>/proc/PID/task/TID/syscall: "NR arg1 arg2 … sp pc" while blocked in a syscall.</summary>
    private static void CollectBlockedSyscall(int pid, string task, Dictionary<long, long> socketByFd, HashSet<long> waiting)
    {
        string text;
        try { text = File.ReadAllText($"{task}/syscall").Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
        var parts = text.Split(' ');
        if (parts.Length < 4 || !int.TryParse(parts[0], out int nr)) return;
        ulong Arg(int i) => ulong.Parse(parts[i].AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);

        switch (Syscalls.Classify(nr))
        {
            case WaitKind.Accept:
                if (socketByFd.TryGetValue((long)Arg(1), out long inode)) waiting.Add(inode);
                break;
            case WaitKind.Poll:
                int count = (int)Math.Min(Arg(2), 4096);
                var pollfds = ReadMemory(pid, Arg(1), count * 8);
                for (int i = 0; i + 8 <= pollfds.Length; i += 8)
                {
                    int fd = BitConverter.ToInt32(pollfds, i);
                    short events = BitConverter.ToInt16(pollfds, i + 4);
                    if ((events & POLLIN) != 0 && socketByFd.TryGetValue(fd, out long polled)) waiting.Add(polled);
                }
                break;
            case WaitKind.Select:
                int nfds = (int)Math.Min(Arg(1), 65536);
                ulong readSet = Arg(2);
                if (readSet == 0) break;
                var bits = ReadMemory(pid, readSet, (nfds + 7) / 8);
                foreach (var (fd, selected) in socketByFd)
                    if (fd < bits.Length * 8 && (bits[fd / 8] & (1 << (int)(fd % 8))) != 0) waiting.Add(selected);
                break;
        }
    }

    private static byte[] ReadMemory(int pid, ulong address, int length)
    {
        if (length <= 0 || address > long.MaxValue) return [];
        try
        {
            using var mem = new FileStream($"/proc/{pid}/mem", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1);
            var buffer = new byte[length];
            int read = RandomAccess.Read(mem.SafeFileHandle, buffer, (long)address);
            return read == length ? buffer : [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }

    private enum WaitKind { None, Accept, Poll, Select }

    /// <summary>Syscall numbers differ per architecture; arm64 has only the newer calls.</summary>
    private static class Syscalls
    {
        public static WaitKind Classify(int nr) => RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => nr switch
            {
                43 or 288 => WaitKind.Accept,   // accept, accept4
                7 or 271 => WaitKind.Poll,      // poll, ppoll
                23 or 270 => WaitKind.Select,   // select, pselect6
                _ => WaitKind.None,
            },
            Architecture.Arm64 => nr switch
            {
                202 or 242 => WaitKind.Accept,  // accept, accept4
                73 => WaitKind.Poll,            // ppoll
                72 => WaitKind.Select,          // pselect6
                _ => WaitKind.None,
            },
            _ => WaitKind.None,
        };
    }
}
