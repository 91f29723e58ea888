using System.Runtime.InteropServices;

namespace Aeterna.Interop;

/// <summary>Shared memory: memfd regions, their seals, and mapping them.</summary>
internal static unsafe partial class Libc
{
    public const uint MFD_CLOEXEC = 0x1, MFD_ALLOW_SEALING = 0x2;
    public const int PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2;
    public const int MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20, MAP_POPULATE = 0x8000;
    public const int MADV_WILLNEED = 3, MADV_DONTNEED = 4, MADV_PAGEOUT = 21, MADV_POPULATE_READ = 22, MADV_POPULATE_WRITE = 23;
    public const int F_ADD_SEALS = 1033, F_GET_SEALS = 1034;
    public const int F_SEAL_SEAL = 0x1, F_SEAL_SHRINK = 0x2, F_SEAL_GROW = 0x4, F_SEAL_WRITE = 0x8;
    private const int SEEK_END = 2;

    [LibraryImport(Lib, EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int MemfdCreate(string name, uint flags);

    [LibraryImport(Lib, EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int Ftruncate(int fd, long length);

    [LibraryImport(Lib, EntryPoint = "lseek", SetLastError = true)]
    private static partial long Lseek(int fd, long offset, int whence);

    [LibraryImport(Lib, EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport(Lib, EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);

    [LibraryImport(Lib, EntryPoint = "mprotect", SetLastError = true)]
    private static partial int Mprotect(nint address, nuint length, int protection);

    [LibraryImport(Lib, EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint address, nuint length, int advice);

    /// <summary>An anonymous, close-on-exec, sealable memory file of <paramref name="length"/> bytes (zero-filled, no pages yet).</summary>
    public static int CreateMemoryFile(string name, long length)
    {
        int fd = MemfdCreate(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0) throw Failure("memfd_create");
        if (Ftruncate(fd, length) != 0)
        {
            var error = Failure($"ftruncate to {length} bytes");
            Close(fd);
            throw error;
        }
        return fd;
    }

    /// <summary>The size of the file behind <paramref name="fd"/>.</summary>
    public static long FileLength(int fd)
    {
        long length = Lseek(fd, 0, SEEK_END);
        return length >= 0 ? length : throw Failure("lseek");
    }

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="fd"/>; a length of 0 maps nothing and returns 0.</summary>
    public static nint Map(int fd, long length, int protection, int flags)
    {
        if (length == 0) return 0;
        nint address = Mmap(0, (nuint)length, protection, flags, fd, 0);
        return address != -1 ? address : throw Failure($"mmap of {length} bytes");
    }

    public static void Protect(nint address, long length, int protection)
    {
        if (length > 0 && Mprotect(address, (nuint)length, protection) != 0) throw Failure("mprotect");
    }

    /// <summary>madvise; false when the kernel does not know the advice (MADV_POPULATE_* needs Linux 5.14).</summary>
    public static bool Advise(nint address, long length, int advice) => length == 0 || Madvise(address, (nuint)length, advice) == 0;

    public static void AddSeals(int fd, int seals)
    {
        if (Fcntl(fd, F_ADD_SEALS, seals) != 0) throw Failure("fcntl(F_ADD_SEALS)");
    }

    public static int GetSeals(int fd)
    {
        int seals = Fcntl(fd, F_GET_SEALS, 0);
        return seals >= 0 ? seals : throw Failure("fcntl(F_GET_SEALS)");
    }

    private static IOException Failure(string call) => new($"{call} failed: {Marshal.GetLastPInvokeErrorMessage()}");
}
