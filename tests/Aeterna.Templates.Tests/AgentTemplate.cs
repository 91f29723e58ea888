using System.Diagnostics;
using System.Text;
using Aeterna.Tests.Support;

namespace Aeterna.Templates.Tests;

/// <summary>
/// The template tests share one <see cref="AgentTemplate"/> and run one at a time, after the
/// parallel tests: packing and building take both cores.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TemplateTests : ICollectionFixture<AgentTemplate>
{
    public const string Name = "template";
}

/// <summary>
/// The product as a user meets it, made once: the root `dotnet pack` into a temp folder, the
/// template package installed into a private template hive, `dotnet new aeterna-agent -n MyAgent`,
/// and `dotnet build` of the new project against the packed packages alone (a nuget.config with
/// only that folder, and a private NUGET_PACKAGES: the global cache may hold another build of the
/// same version, which would silently be used instead).
/// </summary>
public sealed class AgentTemplate : IAsyncLifetime
{
    private readonly TempDirectory _root = new();
    private readonly StringBuilder _log = new();
    private readonly SemaphoreSlim _imageGate = new(1, 1);
    private ImageBuild? _image;

    public string Root => _root.Path;

    public string Artifacts => _root.File("artifacts");

    /// <summary>The repository's version (Directory.Build.props), which every package has.</summary>
    public string Version { get; private set; } = "";

    /// <summary>The packages the root pack made (file names).</summary>
    public IReadOnlyList<string> Packages { get; private set; } = [];

    /// <summary>The created project: MyAgent.csproj, built (Debug, as a plain `dotnet build`).</summary>
    public string Project => _root.File("MyAgent");

    /// <summary>The environment every dotnet command of these tests runs with.</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["NUGET_PACKAGES"] = _root.File("nuget-packages"),
        ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        ["DOTNET_NOLOGO"] = "1",
        ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1",
    };

    public string Log { get { lock (_log) return _log.ToString(); } }

    public async Task InitializeAsync()
    {
        var clock = Stopwatch.StartNew();
        Version = System.Text.RegularExpressions.Regex.Match(File.ReadAllText(Path.Combine(Repo.Root, "Directory.Build.props")), "<Version>([^<]+)</Version>").Groups[1].Value;
        // The tests run after `dotnet build Aeterna.sln -c <configuration>`: pack that build, as the root pack would.
        await RunAsync(Repo.Root, "dotnet", "pack", "Aeterna.sln", "-c", Repo.Configuration, "--no-build", "-o", Artifacts, "-nologo");
        Packages = [.. Directory.GetFiles(Artifacts, "*.nupkg").Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
        File.WriteAllText(_root.File("nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="artifacts" value="{Artifacts}" />
              </packageSources>
            </configuration>
            """);
        await RunAsync(Root, "dotnet", "new", "install", TemplatePackage, "--debug:custom-hive", Hive);
        await NewAsync("MyAgent", Project);
        await RunAsync(Project, "dotnet", "build", "-warnaserror", "-nologo");
        Note($"template fixture ready in {clock.Elapsed.TotalSeconds:0.0} s");
    }

    public string TemplatePackage => Path.Combine(Artifacts, $"Aeterna.Templates.{Version}.nupkg");

    private string Hive => _root.File("hive");

    /// <summary>`dotnet new aeterna-agent -n <paramref name="name"/> -o <paramref name="output"/>` and <paramref name="options"/> from the private hive.</summary>
    public Task NewAsync(string name, string output, params string[] options) =>
        RunAsync(Root, "dotnet", ["new", "aeterna-agent", "-n", name, "-o", output, "--debug:custom-hive", Hive, .. options]);

    /// <summary>The image of the created project's Dockerfile, laid out under a temp root (built on first use).</summary>
    public async Task<ImageBuild> ImageAsync()
    {
        await _imageGate.WaitAsync();
        try
        {
            return _image ??= await ImageBuild.CreateAsync(this, _root.File("image"));
        }
        finally
        {
            _imageGate.Release();
        }
    }

    public void Note(string line)
    {
        lock (_log) _log.AppendLine(line);
    }

    /// <summary>Runs a command with <see cref="Environment"/>; fails with its output unless it exits 0.</summary>
    public async Task<string> RunAsync(string workingDirectory, string program, params string[] args)
    {
        var (code, output) = await TryRunAsync(workingDirectory, program, args);
        if (code != 0) throw new Xunit.Sdk.XunitException($"{program} {string.Join(' ', args)} exited {code}:\n{output}");
        return output;
    }

    public async Task<(int Code, string Output)> TryRunAsync(string workingDirectory, string program, params string[] args)
    {
        var clock = Stopwatch.StartNew();
        var start = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (k, v) in Environment) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        string output = await stdout + await stderr;
        Note($"$ {program} {string.Join(' ', args)}  ({clock.Elapsed.TotalSeconds:0.0} s, exit {process.ExitCode})\n{output.TrimEnd()}");
        return (process.ExitCode, output);
    }

    public async Task DisposeAsync()
    {
        if (_image is not null) await _image.DisposeAsync();
        _root.Dispose();
    }
}
