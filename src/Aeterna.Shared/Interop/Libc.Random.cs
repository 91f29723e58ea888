using System.Runtime.InteropServices;

namespace Aeterna.Interop;

internal static unsafe partial class Libc
{
    [LibraryImport(Lib, EntryPoint = "getrandom", SetLastError = true)]
    private static partial nint GetRandom(byte* buffer, nuint length, uint flags);

    /// <summary>
    /// Fills <paramref name="bytes"/> from the kernel's CSPRNG (getrandom(2)). On Linux the BCL's
    /// RandomNumberGenerator goes through OpenSSL, and loading libcrypto costs the supervisor
    /// about 3.7 MiB of RSS for the few bytes of a session token.
    /// </summary>
    public static void FillRandom(Span<byte> bytes)
    {
        fixed (byte* start = bytes)
        {
            int done = 0;
            while (done < bytes.Length)
            {
                nint got = GetRandom(start + done, (nuint)(bytes.Length - done), 0);
                if (got > 0) done += (int)got;
                else if (got < 0 && Marshal.GetLastPInvokeError() == EINTR) continue;
                else throw new IOException($"getrandom failed: {Marshal.GetLastPInvokeErrorMessage()}");
            }
        }
    }
}
