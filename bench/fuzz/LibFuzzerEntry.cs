using System.Runtime.InteropServices;

namespace Aeterna.Fuzz;

/// <summary>
/// The entry points libfuzzer-dotnet.c calls in its own process: pick the target and point
/// SharpFuzz's edge map at libFuzzer's counters, then one call per input.
/// </summary>
public static unsafe class LibFuzzerEntry
{
    private static BoundedDecode? s_decode;

    /// <summary>Selects the target named by the UTF-8 string <paramref name="target"/>; 0 on success.</summary>
    [UnmanagedCallersOnly]
    public static int Initialize(byte* target, byte* edgeMap, int mapSize)
    {
        if (mapSize != 1 << 16) return -1;
        var name = Marshal.PtrToStringUTF8((nint)target);
        if (name is null || FuzzTargets.Find(name) is not { } found) return -1;
        // Instrumented code writes through this pointer: set before any of it runs.
        SharpFuzz.Common.Trace.SharedMem = edgeMap;
        s_decode = new BoundedDecode(found);
        return 0;
    }

    /// <summary>Decodes one input; 0 when it decoded or was refused, 1 (after printing why) for a crash.</summary>
    [UnmanagedCallersOnly]
    public static int TestOneInput(byte* data, long size)
    {
        SharpFuzz.Common.Trace.PrevLocation = 0;
        try
        {
            s_decode!.Run(new ReadOnlySpan<byte>(data, checked((int)size)));
            return 0;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine(e);
            Console.Error.Flush();
            return 1;
        }
    }
}
