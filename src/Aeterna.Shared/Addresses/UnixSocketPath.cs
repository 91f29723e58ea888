using System.Text;

namespace Aeterna.Addresses;

/// <summary>The one limit every Unix socket path shares: sun_path holds 108 bytes including the NUL.</summary>
internal static class UnixSocketPath
{
    public const int MaxBytes = 107;

    public static int ByteLength(string path) => Encoding.UTF8.GetByteCount(path);

    public static bool Fits(string path) => ByteLength(path) <= MaxBytes;
}
