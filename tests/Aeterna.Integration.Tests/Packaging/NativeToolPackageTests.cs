using System.Diagnostics;
using System.IO.Compression;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Packaging;

/// <summary>
/// The tool as a .NET 10 RID-specific tool (scripts/pack-native-tool.sh): `dotnet tool install aeterna`
/// gives the NativeAOT executable on linux-x64, which validates and supervises with no .NET runtime
/// of its own; the portable package installs by its own id; the linux-arm64 executable runs under
/// qemu-user and validates a config there.
/// </summary>
[Collection(NativeBuilds.Name)]
public sealed class NativeToolPackageTests(NativeToolPackages packages, ITestOutputHelper output) : IClassFixture<NativeToolPackages>
{
    private const ushort MachineX64 = 62, MachineArm64 = 183; // ELF e_machine: EM_X86_64, EM_AARCH64

    private static string Example(string name) => Path.Combine(Repo.Root, "tests", "Aeterna.Tool.Tests", "Configuration", "Examples", name);

    [Fact]
    public async Task Installs_the_native_executable_on_linux_x64_which_validates_and_supervises()
    {
        packages.AssertPacked();
        output.WriteLine($"packages: {packages.Directory} ({(packages.Packed ? "packed" : "from the cache")} in {packages.Took.TotalSeconds:0} s)");
        using var dir = new TempDirectory();
        string tools = dir.File("tools");
        await InstallAsync(tools, "aeterna");

        // The command is a symlink to the executable of the linux-x64 package: one native file, no managed assembly beside it.
        string entry = Path.Combine(tools, "dotnet-aeterna");
        string binary = new FileInfo(entry).ResolveLinkTarget(returnFinalTarget: true)?.FullName
            ?? throw new Xunit.Sdk.XunitException($"{entry} is not a symlink to the package's executable");
        output.WriteLine($"{entry} -> {binary} ({new FileInfo(binary).Length / 1024} KiB)");
        Assert.Contains($"{Path.DirectorySeparatorChar}aeterna.linux-x64{Path.DirectorySeparatorChar}", binary);
        Assert.Equal(MachineX64, ElfMachine(binary));
        string folder = Path.GetDirectoryName(binary)!;
        Assert.Empty(Directory.GetFiles(folder, "*.dll"));
        Assert.False(File.Exists(Path.Combine(folder, "dotnet-aeterna.runtimeconfig.json")));
        // The whole supervisor and its runtime: megabytes, where an apphost that starts a managed tool is under 100 KiB.
        Assert.True(new FileInfo(binary).Length > 4 << 20, $"{binary} is {new FileInfo(binary).Length} bytes: not a NativeAOT executable");
        Assert.True(File.Exists(Path.Combine(folder, "native", "linux-x64", "aeterna-exec")), "the exec shim is missing beside the executable");

        var version = await RunAsync(entry, "--version");
        Assert.StartsWith(packages.Version, version.Output.Trim());

        // YAML, the config model and its errors, without the JIT: an example config, and one with a mistake in it.
        var valid = await RunAsync(entry, "validate", "-c", Example("full.yaml"));
        Assert.True(valid.Code == 0, valid.Output);
        Assert.Contains("full.yaml is valid", valid.Output);
        Assert.Contains("agent-core: python agent.py", valid.Output);
        string broken = dir.Write("broken.yaml", "service:\n  name: broken\n  command: [\"sleep\", \"60\"]\n  restart_polcy: always\n");
        var invalid = await RunAsync(entry, "validate", "-c", broken);
        Assert.True(invalid.Code == 2, $"validate of a config with an unknown key exited {invalid.Code}: {invalid.Output}");
        Assert.Contains("broken.yaml:4:3", invalid.Output);

        // The native supervisor finds its exec shim and starts a real service with socket activation.
        string config = new TestConfig { Command = ["sh", "-c", "echo LISTEN_PID=$LISTEN_PID pid=$$; sleep 60"], Port = FreePort.Get(), Readiness = "delay", Delay = "50ms" }.WriteTo(dir);
        var start = new ProcessStartInfo(entry, ["start", "-c", config]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var supervisor = Process.Start(start)!;
        var stderr = supervisor.StandardError.ReadToEndAsync();
        var line = await supervisor.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20));
        output.WriteLine(line);
        Posix.Kill(supervisor.Id, Posix.SIGTERM);
        await supervisor.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        output.WriteLine(await stderr);
        Assert.NotNull(line);
        var parts = line.Split(' ');
        Assert.Equal(parts[0]["LISTEN_PID=".Length..], parts[1]["pid=".Length..]);
    }

    [Fact]
    public async Task Installs_the_portable_tool_on_request_by_the_id_of_its_package()
    {
        packages.AssertPacked();
        using var dir = new TempDirectory();
        string tools = dir.File("tools");
        // `dotnet tool install -a` cannot pick `any` (on Linux it accepts only win-* and osx-* RIDs):
        // the portable package is a tool package of its own, installed by its id.
        await InstallAsync(tools, "aeterna.any");

        // The SDK's apphost, which starts the managed tool on the installed .NET runtime.
        string entry = Path.Combine(tools, "dotnet-aeterna");
        Assert.Null(new FileInfo(entry).LinkTarget);
        Assert.True(new FileInfo(entry).Length < 1 << 20, $"{entry} is {new FileInfo(entry).Length} bytes: not an apphost");
        string managed = Directory.GetFiles(Path.Combine(tools, ".store"), "dotnet-aeterna.dll", SearchOption.AllDirectories).Single();
        Assert.Contains($"{Path.DirectorySeparatorChar}aeterna.any{Path.DirectorySeparatorChar}", managed);
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(managed)!, "native", "linux-x64", "aeterna-exec")));

        var version = await RunAsync(entry, "--version");
        Assert.StartsWith(packages.Version, version.Output.Trim());
        var valid = await RunAsync(entry, "validate", "-c", Example("minimal.yaml"));
        Assert.True(valid.Code == 0, valid.Output);
        Assert.Contains("minimal.yaml is valid", valid.Output);
    }

    [Fact]
    public async Task The_linux_arm64_executable_runs_and_validates_under_qemu()
    {
        packages.AssertPacked();
        string qemu = Programs.Require("qemu-aarch64", "qemu-user");
        using var dir = new TempDirectory();
        // `dotnet tool install` installs only the machine's own RID, so the executable comes out of the package as the SDK would lay it out.
        using (var zip = ZipFile.OpenRead(packages.Package("aeterna.linux-arm64")))
        {
            var files = zip.Entries.Select(e => e.FullName).Where(n => n.StartsWith("tools/", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(["tools/any/linux-arm64/DotnetToolSettings.xml", "tools/any/linux-arm64/dotnet-aeterna", "tools/any/linux-arm64/native/linux-arm64/aeterna-exec"], files);
            zip.ExtractToDirectory(dir.Path);
        }
        string binary = dir.File("tools/any/linux-arm64/dotnet-aeterna");
        File.SetUnixFileMode(binary, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Assert.Equal(MachineArm64, ElfMachine(binary));
        Assert.Equal(MachineArm64, ElfMachine(dir.File("tools/any/linux-arm64/native/linux-arm64/aeterna-exec")));

        // Against the aarch64 libc of Debian's cross toolchain (libc6-arm64-cross).
        var version = await RunAsync(qemu, "-L", "/usr/aarch64-linux-gnu", binary, "--version");
        Assert.True(version.Code == 0, version.Output);
        Assert.StartsWith(packages.Version, version.Output.Trim());
        var help = await RunAsync(qemu, "-L", "/usr/aarch64-linux-gnu", binary, "--help");
        Assert.True(help.Code == 0, help.Output);
        Assert.Contains("validate", help.Output);
        // The config loader and its errors: the whole of `validate`, which needs no library beyond libc.
        var valid = await RunAsync(qemu, "-L", "/usr/aarch64-linux-gnu", binary, "validate", "-c", Example("full.yaml"));
        Assert.True(valid.Code == 0, $"validate under qemu exited {valid.Code}: {valid.Output}");
        Assert.Contains("full.yaml is valid", valid.Output);
        string broken = dir.File("broken.yaml");
        File.WriteAllText(broken, "service:\n  command: [\"sleep\", \"1\"]\n  nmae: agent\n");
        var invalid = await RunAsync(qemu, "-L", "/usr/aarch64-linux-gnu", binary, "validate", "-c", broken);
        Assert.True(invalid.Code == 2, $"validate of a config with an unknown key exited {invalid.Code} under qemu: {invalid.Output}");
        Assert.Contains("unknown key 'nmae'", invalid.Output);
    }

    /// <summary>`dotnet tool install` into a tool path from the packed folder alone (no other feed could offer another `aeterna`).</summary>
    private async Task InstallAsync(string toolPath, string id)
    {
        var (code, text) = await Programs.RunAsync("dotnet", ["tool", "install", id, "--tool-path", toolPath, "--source", packages.Directory, "--version", packages.Version], TimeSpan.FromMinutes(3));
        output.WriteLine($"$ dotnet tool install {id} --tool-path {toolPath} --source {packages.Directory} --version {packages.Version}\n{text}");
        Assert.True(code == 0, $"dotnet tool install {id} exited {code}: {text}");
    }

    private async Task<(int Code, string Output)> RunAsync(string program, params string[] arguments)
    {
        var clock = Stopwatch.StartNew();
        var result = await Programs.RunAsync(program, arguments, TimeSpan.FromMinutes(1));
        output.WriteLine($"$ {program} {string.Join(' ', arguments)}   ({clock.ElapsedMilliseconds} ms, exit {result.Code})\n{result.Output}");
        return result;
    }

    /// <summary>The e_machine field of an ELF file's header; fails unless the file starts with the ELF magic.</summary>
    private static ushort ElfMachine(string path)
    {
        var header = new byte[20];
        using (var file = File.OpenRead(path)) file.ReadExactly(header);
        Assert.True(header.AsSpan(0, 4).SequenceEqual((byte[])[0x7F, (byte)'E', (byte)'L', (byte)'F']), $"{path} is not an ELF file");
        return BitConverter.ToUInt16(header, 18);
    }
}
