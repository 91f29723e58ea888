using BenchmarkDotNet.Running;

// bench/run serializers: every benchmark of this assembly (pass BenchmarkDotNet options after it).
BenchmarkSwitcher.FromAssembly(typeof(Aeterna.Benchmarks.ChatHistory).Assembly).Run(args);
