namespace Aeterna.Tool;

/// <summary>
/// 64-bit FNV-1a, written out: the supervisor hashes only to spread or to compare (a socket
/// directory's name, a fingerprint of watched files), never for security, and SHA-256 would load
/// OpenSSL (several MiB of RSS) into the native supervisor for it.
/// </summary>
internal static class Fnv1a
{
    public static ulong Hash64(ReadOnlySpan<byte> bytes)
    {
        ulong hash = 14695981039346656037;
        foreach (byte b in bytes) hash = (hash ^ b) * 1099511628211;
        return hash;
    }
}
