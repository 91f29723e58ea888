using Aeterna.Fuzz;

// Aeterna.Fuzz list                       the targets, their decoders and limits (tab-separated)
// Aeterna.Fuzz seeds TARGET DIR           writes the target's valid encodings into DIR
// (libfuzzer-dotnet.c runs this assembly in its own process and calls LibFuzzerEntry per input)
// Aeterna.Fuzz replay TARGET FILE...      runs saved inputs (a crash libFuzzer saved) outside the fuzzer
switch (args)
{
    case ["list"]:
        foreach (var target in FuzzTargets.All)
            Console.WriteLine($"{target.Name}\t{target.MaxLength}\t{target.Decoder}");
        return 0;
    case ["seeds", var name, var directory] when FuzzTargets.Find(name) is { } target:
        Directory.CreateDirectory(directory);
        int n = 0;
        foreach (var seed in target.Seeds())
            File.WriteAllBytes(Path.Combine(directory, $"seed-{n++:d3}"), seed);
        Console.WriteLine($"{n} seeds for {name} in {directory}");
        return 0;
    case ["replay", var name, .. var files] when FuzzTargets.Find(name) is { } target:
    {
        var decode = new BoundedDecode(target);
        foreach (var file in files)
        {
            bool decoded = decode.Run(File.ReadAllBytes(file));
            Console.WriteLine($"{file}: {(decoded ? "decoded" : "refused")}");
        }
        return 0;
    }
    default:
        Console.Error.WriteLine($"usage: Aeterna.Fuzz list | seeds TARGET DIR | replay TARGET FILE...; targets: {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}");
        return 2;
}
