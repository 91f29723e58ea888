namespace Aeterna.Fuzz;

/// <summary>
/// One decoder under the fuzzer: how to feed it one input, which exceptions are its documented
/// refusals (anything else is a crash), how much it may allocate for an input, and valid
/// encodings to start the corpus from.
/// </summary>
internal abstract class FuzzTarget
{
    /// <summary>The name on the command line and in the results table.</summary>
    public abstract string Name { get; }

    /// <summary>What is decoded, in a few words.</summary>
    public abstract string Decoder { get; }

    /// <summary>Inputs longer than this are not tried (libFuzzer's -max_len).</summary>
    public virtual int MaxLength => 4096;

    /// <summary>Allocation allowed whatever the input (buffers of the decoder, an exception and its message).</summary>
    public virtual long AllocationConstant => 256 * 1024;

    /// <summary>Allocation allowed per input byte: each byte may become a small object, never a big one.</summary>
    public virtual long AllocationPerByte => 512;

    /// <summary>Decodes <paramref name="input"/>; returns normally when it decoded, throws when it refused.</summary>
    public abstract void Decode(ReadOnlySpan<byte> input);

    /// <summary>Whether <paramref name="error"/> is one of the decoder's documented refusals.</summary>
    public abstract bool IsRefusal(Exception error);

    /// <summary>Valid encodings: the corpus starts from these.</summary>
    public abstract IEnumerable<byte[]> Seeds();
}
