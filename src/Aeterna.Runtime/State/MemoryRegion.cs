using Aeterna.Interop;
using Microsoft.Win32.SafeHandles;

namespace Aeterna.State;

/// <summary>
/// A memfd and this process's shared read-write mapping of it: the storage of a
/// <see cref="RelayMemory{T}"/>. Its size is sealed at creation (F_SEAL_SHRINK | F_SEAL_GROW), so
/// no process holding the fd can truncate it under another's mapping.
/// </summary>
internal sealed unsafe class MemoryRegion : IDisposable
{
    private const int SizeSeals = Libc.F_SEAL_SHRINK | Libc.F_SEAL_GROW;

    private MemoryRegion(SafeFileHandle file, nint address, long byteLength, string name)
    {
        File = file;
        Address = address;
        ByteLength = byteLength;
        Name = name;
    }

    /// <summary>The memfd; passed to the next generation with SCM_RIGHTS.</summary>
    public SafeFileHandle File { get; }

    public nint Address { get; private set; }

    public long ByteLength { get; }

    /// <summary>The memfd's name (shown in /proc/PID/fd as "/memfd:NAME").</summary>
    public string Name { get; }

    /// <summary>Mapped read-only: this generation has handed it over and must not write.</summary>
    public bool ReadOnly { get; private set; }

    public bool IsDisposed => File.IsClosed;

    /// <summary>A new zero-filled region; pages are allocated as they are first written.</summary>
    public static MemoryRegion Create(string name, long byteLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(byteLength);
        int fd = Libc.CreateMemoryFile("aeterna:" + name, byteLength);
        var file = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            Libc.AddSeals(fd, SizeSeals);
            return new MemoryRegion(file, Libc.Map(fd, byteLength, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED), byteLength, name);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Maps a region received from another generation. Its size must be sealed (or it could
    /// shrink under us and turn reads into SIGBUS) and equal to <paramref name="expectedByteLength"/>.
    /// </summary>
    public static MemoryRegion Adopt(SafeFileHandle file, string name, long expectedByteLength)
    {
        int fd = (int)file.DangerousGetHandle();
        long length = Libc.FileLength(fd);
        if (length != expectedByteLength)
            throw new RelayFormatException($"memory region '{name}' is {length} bytes, but the state says {expectedByteLength}");
        if ((Libc.GetSeals(fd) & SizeSeals) != SizeSeals)
            throw new RelayFormatException($"memory region '{name}' is not size-sealed; refusing to map memory another process could truncate");
        return new MemoryRegion(file, Libc.Map(fd, length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED), length, name);
    }

    public Span<byte> Bytes(long offset, int count)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if ((ulong)offset + (ulong)count > (ulong)ByteLength) throw new ArgumentOutOfRangeException(nameof(offset));
        return new Span<byte>((byte*)Address + offset, count);
    }

    /// <summary>
    /// Makes this process's mapping read-only (handed over: a stray write faults instead of
    /// silently changing the next generation's data) or writable again (the relay rolled back).
    /// </summary>
    public void SetReadOnly(bool readOnly)
    {
        if (ReadOnly == readOnly || Address == 0) return;
        Libc.Protect(Address, ByteLength, readOnly ? Libc.PROT_READ : Libc.PROT_READ | Libc.PROT_WRITE);
        ReadOnly = readOnly;
    }

    /// <summary>Faults every page in now (MADV_POPULATE_READ, Linux 5.14+), so first reads don't; false when unsupported.</summary>
    public bool Prefault() => Libc.Advise(Address, ByteLength, Libc.MADV_POPULATE_READ);

    public void Dispose()
    {
        if (Address != 0)
        {
            Libc.Munmap(Address, (nuint)ByteLength);
            Address = 0;
        }
        File.Dispose();
    }
}
