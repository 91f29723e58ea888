namespace Aeterna.Tool.Sockets;

/// <summary>Socket identity as the kernel shows it in /proc: "socket:[12345]" links and "ino:" fields.</summary>
internal static class SocketInode
{
    /// <summary>The inode of the socket at <paramref name="fd"/> in <paramref name="pid"/> (default: this process), or -1.</summary>
    public static long Of(int fd, string pid = "self")
    {
        try
        {
            string? target = new FileInfo($"/proc/{pid}/fd/{fd}").LinkTarget;
            return Parse(target);
        }
        catch (IOException) { return -1; }
        catch (UnauthorizedAccessException) { return -1; }
    }

    public static long Parse(string? linkTarget) =>
        linkTarget is not null && linkTarget.StartsWith("socket:[", StringComparison.Ordinal)
        && long.TryParse(linkTarget.AsSpan(8, linkTarget.Length - 9), out long inode) ? inode : -1;
}
