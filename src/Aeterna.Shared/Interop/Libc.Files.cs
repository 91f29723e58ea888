using System.Runtime.InteropServices;
using System.Text;

namespace Aeterna.Interop;

/// <summary>Appending to a file: open(2) with O_APPEND.</summary>
internal static unsafe partial class Libc
{
    public const int O_CREAT = 0x40, O_APPEND = 0x400;

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true)]
    private static partial int Open(byte* path, int flags, uint mode);

    /// <summary>
    /// Opens <paramref name="path"/> for appending (created with <paramref name="mode"/> if missing),
    /// close-on-exec. With O_APPEND every write(2) lands at the end of the file as one piece, even
    /// with other writers; .NET's FileMode.Append seeks to the end once and then writes at its own
    /// offset instead. Throws <see cref="IOException"/> with the errno's text.
    /// </summary>
    public static int OpenForAppend(string path, uint mode = 0x180 /* 0600 */)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            while (true)
            {
                int fd = Open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode);
                if (fd >= 0) return fd;
                int errno = Marshal.GetLastPInvokeError();
                if (errno != EINTR) throw new IOException($"{path}: {ErrorText(errno)}", errno);
            }
        }
    }

    /// <summary>Appends <paramref name="data"/> to <paramref name="path"/> with one write(2) on an O_APPEND descriptor.</summary>
    public static void Append(string path, ReadOnlySpan<byte> data)
    {
        int fd = OpenForAppend(path);
        try
        {
            if (!WriteAll(fd, data))
                throw new IOException($"{path}: {ErrorText(Marshal.GetLastPInvokeError())}");
        }
        finally { Close(fd); }
    }
}
