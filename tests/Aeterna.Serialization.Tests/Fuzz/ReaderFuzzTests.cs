using Aeterna.Serialization.Tests.RoundTrip;

namespace Aeterna.Serialization.Tests.Fuzz;

/// <summary>
/// Random, truncated and mutated input: reading never fails with anything but a
/// RelayFormatException, and never allocates far beyond the input's size (lengths are checked
/// against the bytes left before anything is allocated).
/// </summary>
public class ReaderFuzzTests
{
    private static readonly byte[] Valid = RelaySerializer.Serialize(RoundTripTests.Sample());

    [Fact]
    public void Every_truncation_is_a_format_error()
    {
        for (int length = 0; length < Valid.Length; length++)
            Assert.Throws<RelayFormatException>(() => RelaySerializer.Deserialize<AllTypes>(Valid.AsSpan(0, length)));
    }

    [Fact]
    public void Mutated_input_is_read_or_refused()
    {
        var random = new Random(1234);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] data = (byte[])Valid.Clone();
            for (int flips = random.Next(1, 4); flips > 0; flips--)
                data[random.Next(data.Length)] = (byte)random.Next(256);
            ReadOrRefuse(data);
        }
    }

    [Fact]
    public void Mutated_input_with_UTF16_strings_is_read_or_refused()
    {
        byte[] valid = RelaySerializer.Serialize(RoundTripTests.Sample(), RelayStringEncoding.Utf16);
        var random = new Random(2468);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] data = (byte[])valid.Clone();
            for (int flips = random.Next(1, 4); flips > 0; flips--)
                data[random.Next(data.Length)] = (byte)random.Next(256);
            ReadOrRefuse(data);
        }
        for (int length = 0; length < valid.Length; length++)
            Assert.Throws<RelayFormatException>(() => RelaySerializer.Deserialize<AllTypes>(valid.AsSpan(0, length)));
    }

    [Fact]
    public void Random_input_is_read_or_refused()
    {
        var random = new Random(5678);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] data = new byte[random.Next(0, 64)];
            random.NextBytes(data);
            // Start most inputs like an object with a few members so the fuzzing reaches past the header.
            if (data.Length > 0 && i % 4 != 0) data[0] = (byte)random.Next(1, 8);
            ReadOrRefuse(data);
        }
    }

    [Fact]
    public void Huge_announced_lengths_allocate_nothing()
    {
        // An object with one member "ints" (int32 array) that announces 500 million elements.
        byte[] data = [0x02, .. BitConverter.GetBytes(Hash("ints")), 0x21, 0x07, .. BitConverter.GetBytes(500_000_000)];
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<RelayFormatException>(() => RelaySerializer.Deserialize<AllTypes>(data));
        Assert.Contains("500000000 items", error.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024, "nothing big was allocated");
    }

    private static void ReadOrRefuse(byte[] data)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            var value = RelaySerializer.Deserialize<AllTypes>(data);
            value?.Embeddings?.Dispose();
        }
        catch (RelayFormatException)
        {
        }
        catch (Exception e)
        {
            Assert.Fail($"reading {Convert.ToHexString(data)} threw {e}");
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Each input byte can at most become a small object (an element, a string's chars); 2 KiB per byte is far above that and far below a runaway.
        Assert.True(allocated < 2048L * data.Length + 256 * 1024, $"{allocated} bytes allocated for {data.Length} bytes of input");
    }

    private static uint Hash(string key) => Aeterna.Generators.Parsing.MemberKeys.Hash(key);
}
