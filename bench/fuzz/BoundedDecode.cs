namespace Aeterna.Fuzz;

/// <summary>
/// Runs one input through a target the way the fuzzer judges it: a documented refusal is fine,
/// any other exception escapes (a crash), and so does a <see cref="FuzzFinding"/> when the managed
/// allocation of the decode exceeds the target's constant plus its allowance per input byte.
/// </summary>
internal sealed class BoundedDecode(FuzzTarget target)
{
    private bool _warm;

    public FuzzTarget Target => target;

    /// <summary>Decodes one input; true when it decoded, false when it was refused.</summary>
    public bool Run(ReadOnlySpan<byte> input)
    {
        if (!_warm) WarmUp();
        long before = GC.GetAllocatedBytesForCurrentThread();
        bool decoded;
        try
        {
            target.Decode(input);
            decoded = true;
        }
        catch (Exception e) when (target.IsRefusal(e))
        {
            decoded = false;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long bound = target.AllocationConstant + target.AllocationPerByte * input.Length;
        if (allocated > bound)
            throw new FuzzFinding($"{target.Name}: {allocated} bytes allocated decoding {input.Length} bytes (bound {bound}: {target.AllocationConstant} + {target.AllocationPerByte} per byte); input {Convert.ToHexString(input[..Math.Min(input.Length, 256)])}");
        return decoded;
    }

    /// <summary>
    /// Decodes the seeds once, unmeasured: the first decode of each kind pays for static
    /// initialisation (JSON metadata, formatter caches) that no input should be charged for.
    /// </summary>
    private void WarmUp()
    {
        _warm = true;
        foreach (var seed in target.Seeds())
        {
            for (int i = 0; i < 2; i++)
            {
                try { target.Decode(seed); }
                catch (Exception e) when (target.IsRefusal(e)) { }
            }
            // Truncated seeds reach the refusals (exception types, their messages' formatting).
            try { target.Decode(seed.AsSpan(0, seed.Length / 2)); }
            catch (Exception e) when (target.IsRefusal(e)) { }
        }
    }
}
