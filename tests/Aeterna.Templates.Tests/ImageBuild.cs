using System.Text.RegularExpressions;

namespace Aeterna.Templates.Tests;

/// <summary>
/// What `docker build` makes of the created project's Dockerfile, made without an engine (there
/// is none here): the build stage's COPY and RUN instructions run in a temp root (absolute paths
/// of the stage mapped into it; the SDK is this machine's, the packages the locally packed ones),
/// then the final stage's files laid out from its <c>COPY --from</c> instructions, and its config
/// (ENV, USER, WORKDIR, EXPOSE, STOPSIGNAL, ENTRYPOINT) kept for <see cref="ImageContainer"/>.
/// What the base images bring (Debian, /usr/share/dotnet) is this machine's /usr and /etc.
/// </summary>
public sealed partial class ImageBuild : IAsyncDisposable
{
    /// <summary>What mcr.microsoft.com/dotnet/aspnet:10.0 sets (its Dockerfile); ours come on top.</summary>
    private static readonly Dictionary<string, string> BaseImageEnv = new(StringComparer.Ordinal)
    {
        ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ["APP_UID"] = "1654",
        ["ASPNETCORE_HTTP_PORTS"] = "8080",
        ["DOTNET_RUNNING_IN_CONTAINER"] = "true",
        ["HOME"] = "/home/app",
    };

    private ImageBuild(string directory, Dockerfile dockerfile)
    {
        Directory_ = directory;
        Dockerfile = dockerfile;
    }

    private string Directory_ { get; }

    public Dockerfile Dockerfile { get; }

    /// <summary>The build context: the project as the Dockerfile sees it (.dockerignore applied), plus a nuget.config for the packed packages.</summary>
    public string Context => Path.Combine(Directory_, "context");

    /// <summary>The build stage's file system (its /src, /out, …).</summary>
    public string BuildRoot => Path.Combine(Directory_, "build");

    /// <summary>The final image's own files (/app, /opt/aeterna); the rest of its root is the machine's.</summary>
    public string Files => Path.Combine(Directory_, "files");

    public Dictionary<string, string> Env { get; } = new(BaseImageEnv, StringComparer.Ordinal);

    public string User { get; private set; } = "0";

    public string WorkDir { get; private set; } = "/";

    public string[] Entrypoint { get; private set; } = [];

    public List<string> Exposed { get; } = [];

    public string? StopSignal { get; private set; }

    public static async Task<ImageBuild> CreateAsync(AgentTemplate template, string directory)
    {
        var dockerfile = Dockerfile.Parse(await File.ReadAllTextAsync(Path.Combine(template.Project, "Dockerfile")));
        var image = new ImageBuild(directory, dockerfile);
        Directory.CreateDirectory(directory);
        image.CopyContext(template);
        var args = dockerfile.ArgDefaults();
        Assert.Equal(2, dockerfile.Stages.Count);
        var build = dockerfile.Stages[0];
        var final = dockerfile.Stages[1];
        // The top-level directories the build stage works in: its WORKDIRs and what the final stage copies from it.
        var roots = build.All("WORKDIR").Select(w => w.Arguments)
            .Concat(final.All("COPY").Select(c => c.FlagsAndWords()).Where(c => c.Flags.ContainsKey("from")).Select(c => c.Words[0]))
            .Select(p => p.TrimStart('/').Split('/')[0]).Distinct().ToList();
        await image.RunBuildStageAsync(template, build, args, roots);
        image.LayOutFinalStage(build, final);
        return image;
    }

    private void CopyContext(AgentTemplate template)
    {
        var ignored = File.ReadAllLines(Path.Combine(template.Project, ".dockerignore"))
            .Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => new Regex("^" + Regex.Escape(l.TrimEnd('/')).Replace("\\*", "[^/]*") + "$")).ToList();
        Directory.CreateDirectory(Context);
        foreach (var entry in new DirectoryInfo(template.Project).EnumerateFileSystemInfos())
        {
            if (ignored.Any(r => r.IsMatch(entry.Name))) continue;
            Cp(entry.FullName, Path.Combine(Context, entry.Name));
        }
        // How the packed (not yet published) packages reach `dotnet restore` in the build stage.
        File.Copy(Path.Combine(template.Root, "nuget.config"), Path.Combine(Context, "nuget.config"));
    }

    private async Task RunBuildStageAsync(AgentTemplate template, DockerStage stage, Dictionary<string, string> args, List<string> roots)
    {
        string workdir = "/";
        var stageArgs = new Dictionary<string, string>(StringComparer.Ordinal);
        string Map(string path) => Path.Combine(BuildRoot, Absolute(workdir, path).TrimStart('/'));
        foreach (var instruction in stage.Instructions)
        {
            switch (instruction.Keyword)
            {
                case "ARG":
                    var parts = instruction.Arguments.Split('=', 2);
                    stageArgs[parts[0]] = parts.Length > 1 ? parts[1] : args.GetValueOrDefault(parts[0], "");
                    break;
                case "WORKDIR":
                    workdir = Absolute(workdir, instruction.Arguments);
                    Directory.CreateDirectory(Map("."));
                    break;
                case "COPY":
                    var (flags, words) = instruction.FlagsAndWords();
                    Assert.False(flags.ContainsKey("from"), "the build stage copies from the context only");
                    string dest = Map(words[^1]);
                    Directory.CreateDirectory(dest);
                    foreach (var source in words[..^1])
                    {
                        if (source == ".")
                        {
                            Cp(Context + "/.", dest);
                            continue;
                        }
                        var glob = new Regex("^" + Regex.Escape(source).Replace("\\*", "[^/]*").Replace("\\[", "[").Replace("\\]", "]") + "$");
                        foreach (var file in Directory.EnumerateFileSystemEntries(Context).Where(f => glob.IsMatch(Path.GetFileName(f))))
                            Cp(file, Path.Combine(dest, Path.GetFileName(file)));
                    }
                    break;
                case "RUN":
                    // Absolute paths of the stage (/src, /out, …) live under BuildRoot here.
                    string command = Regex.Replace(instruction.Arguments, $@"(?<=^|[\s=""'])/({string.Join('|', roots.Select(Regex.Escape))})(?=[/\s""']|$)", BuildRoot + "/$1");
                    var env = string.Join(' ', stageArgs.Select(a => $"{a.Key}='{a.Value}'"));
                    await template.RunAsync(Map("."), "sh", "-c", $"export {env}; set -e; {command}");
                    break;
                default:
                    throw new Xunit.Sdk.XunitException($"the build stage has {instruction.Keyword}, which this stand-in for a builder does not run");
            }
        }
    }

    private void LayOutFinalStage(DockerStage build, DockerStage final)
    {
        Directory.CreateDirectory(Files);
        foreach (var instruction in final.Instructions)
        {
            switch (instruction.Keyword)
            {
                case "COPY":
                    var (flags, words) = instruction.FlagsAndWords();
                    Assert.True(flags.TryGetValue("from", out var from) && from == build.Name, $"the final stage copies from the build stage only: {instruction}");
                    Assert.Equal(2, words.Length);
                    string source = Path.Combine(BuildRoot, words[0].TrimStart('/'));
                    string dest = Path.Combine(Files, words[1].TrimStart('/'));
                    Directory.CreateDirectory(dest);
                    Cp(source + "/.", dest); // COPY of a directory copies its contents; symlinks stay symlinks
                    if (flags.TryGetValue("chown", out var owner)) Run("chown", "-R", owner, dest);
                    break;
                case "ENV":
                    foreach (Match m in EnvPattern().Matches(instruction.Arguments))
                        Env[m.Groups[1].Value] = Expand(m.Groups[2].Value.Trim('"'));
                    break;
                case "USER": User = instruction.Arguments; break;
                case "WORKDIR": WorkDir = Absolute(WorkDir, instruction.Arguments); break;
                case "EXPOSE": Exposed.AddRange(instruction.Arguments.Split(' ')); break;
                case "STOPSIGNAL": StopSignal = instruction.Arguments; break;
                case "ENTRYPOINT": Entrypoint = instruction.ExecForm(); break;
                case "HEALTHCHECK": break; // checked by the tests on the Dockerfile itself
                default:
                    throw new Xunit.Sdk.XunitException($"the final stage has {instruction.Keyword}, which this stand-in for a builder does not lay out");
            }
        }
    }

    private string Expand(string value) => VariablePattern().Replace(value, m => Env.GetValueOrDefault(m.Groups[1].Value + m.Groups[2].Value, ""));

    private static string Absolute(string workdir, string path) => path.StartsWith('/') ? path : Path.GetFullPath(Path.Combine(workdir, path));

    /// <summary>cp -a: modes, owners and symlinks as they are.</summary>
    internal static void Cp(string source, string dest) => Run("cp", "-a", source, dest);

    internal static void Run(string program, params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = System.Diagnostics.Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new Xunit.Sdk.XunitException($"{program} {string.Join(' ', args)} exited {process.ExitCode}: {output}");
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask; // the fixture's temp directory holds everything

    [GeneratedRegex(@"(\w+)=(""[^""]*""|\S+)")]
    private static partial Regex EnvPattern();

    [GeneratedRegex(@"\$\{(\w+)\}|\$(\w+)")]
    private static partial Regex VariablePattern();
}
