using System.Buffers.Binary;
using System.Numerics;

namespace Aeterna.Protocol;

/// <summary>
/// CRC-32C (Castagnoli, as in iSCSI and ext4; check value of "123456789" is 0xE3069283), built on
/// <see cref="BitOperations.Crc32C(uint, ulong)"/>, which is the CPU's crc32 instruction where there
/// is one. No package is needed: System.IO.Hashing's CRC-32 is the IEEE polynomial (its CRC-32C
/// parameter set comes with .NET 11), and this is the same instruction it would use.
/// </summary>
internal static class Crc32C
{
    /// <summary>The CRC of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Append(Start, data));

    public const uint Start = 0xFFFFFFFF;

    public static uint Finish(uint state) => ~state;

    /// <summary>Continues a running CRC (begun with <see cref="Start"/>, ended with <see cref="Finish"/>).</summary>
    public static uint Append(uint state, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 32)
        {
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data[8..]));
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data[16..]));
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data[24..]));
            data = data[32..];
        }
        while (data.Length >= 8)
        {
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (byte b in data) state = BitOperations.Crc32C(state, b);
        return state;
    }
}
