using Aeterna.Serialization.Tests.MemoryPackMembers;

namespace Aeterna.Serialization.Tests.Fuzz;

/// <summary>
/// Corrupt state around and inside MemoryPack members: MemoryPack reads the bytes inside each
/// member's length, and whatever it makes of corrupt ones surfaces as a RelayFormatException, with
/// allocations bounded by the input.
/// </summary>
public class MemoryPackFuzzTests
{
    private static readonly byte[] Valid = RelaySerializer.Serialize(MemoryPackRoundTripTests.Sample());

    [Fact]
    public void Every_truncation_is_a_format_error()
    {
        for (int length = 0; length < Valid.Length; length++)
            Assert.Throws<RelayFormatException>(() => RelaySerializer.Deserialize<AgentWithProfiles>(Valid.AsSpan(0, length)));
    }

    [Fact]
    public void Mutated_input_is_read_or_refused()
    {
        var random = new Random(4321);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] data = (byte[])Valid.Clone();
            for (int flips = random.Next(1, 4); flips > 0; flips--)
                data[random.Next(data.Length)] = (byte)random.Next(256);
            ReadOrRefuse(data);
        }
    }

    [Fact]
    public void Random_MemoryPack_bytes_inside_a_valid_member_are_read_or_refused()
    {
        // An object with one member "owner" (memorypack), whose blob is random: only MemoryPack sees these bytes.
        var random = new Random(8765);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] blob = new byte[random.Next(0, 100)];
            random.NextBytes(blob);
            if (blob.Length > 0 && i % 2 == 0) blob[0] = (byte)random.Next(0, 8); // a plausible member count
            byte[] data = [0x02, .. BitConverter.GetBytes(Hash("owner")), 0x25, (byte)blob.Length, .. blob];
            ReadOrRefuse(data);
        }
    }

    private static void ReadOrRefuse(byte[] data)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            RelaySerializer.Deserialize<AgentWithProfiles>(data);
        }
        catch (RelayFormatException)
        {
        }
        catch (Exception e)
        {
            Assert.Fail($"reading {Convert.ToHexString(data)} threw {e}");
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 2048L * data.Length + 256 * 1024, $"{allocated} bytes allocated for {data.Length} bytes of input");
    }

    private static uint Hash(string key)
    {
        uint hash = 2166136261;
        foreach (byte b in System.Text.Encoding.UTF8.GetBytes(key)) hash = (hash ^ b) * 16777619;
        return hash;
    }
}
