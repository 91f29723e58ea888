using BenchmarkDotNet.Running;
using Aeterna.Benchmarks;

// bench/Aeterna.Benchmarks: every benchmark of this assembly (BenchmarkDotNet options follow), or
// `--loop NAME SECONDS`: one ChatHistoryBenchmarks method in a loop, to profile with perf
// (DOTNET_PerfMapEnabled=1 perf record -g dotnet …), or `--compare SECONDS`: the read paths
// interleaved, medians side by side (steadier than separate runs on a busy machine).
if (args.Length == 3 && args[0] == "--loop")
    ProfileLoop.Run(args[1], TimeSpan.FromSeconds(double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture)));
else if (args.Length == 2 && args[0] == "--compare")
    ProfileLoop.Compare(TimeSpan.FromSeconds(double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture)));
else
    BenchmarkSwitcher.FromAssembly(typeof(ChatHistory).Assembly).Run(args);
