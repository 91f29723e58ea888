using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Aeterna.Tests.Support;

namespace Aeterna.Integration.Tests.Packaging;

/// <summary>
/// The tool's RID-specific packages as users get them: scripts/pack-native-tool.sh run on a copy of
/// the tool's sources (so the packs do not rebuild the bin/ and obj/ the other tests run the tool
/// from). Two NativeAOT compiles (linux-x64, and linux-arm64 cross-compiled with clang and lld), a
/// minute or more each on two cores: made once per test run, and kept in
/// artifacts/test-cache/native-tool/&lt;hash of the sources&gt; so a run on unchanged sources reuses them.
/// </summary>
public sealed class NativeToolPackages : IAsyncLifetime
{
    /// <summary>What the packs are made of, relative to the repository: the key of the cache.</summary>
    private static readonly string[] Sources =
    [
        "src/Aeterna.Tool", "src/Aeterna.Shared", "scripts/pack-native-tool.sh", "scripts/debian-packages.sh",
        "Directory.Build.props", "Directory.Packages.props", "global.json", "README.md", "docs/aeterna.schema.json",
    ];

    /// <summary>The programs the cross-compile needs, with the Debian package of each (test.sh installs them).</summary>
    private static readonly (string Program, string Package)[] Toolchain =
    [
        ("clang", "clang"), ("ld.lld", "lld"), ("gcc", "gcc"), ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
    ];

    /// <summary>The four packages the script makes: the pointer package first.</summary>
    public static readonly string[] Ids = ["aeterna", "aeterna.linux-x64", "aeterna.linux-arm64", "aeterna.any"];

    /// <summary>The folder holding the packages, a package source for `dotnet tool install`.</summary>
    public string Directory { get; private set; } = "";

    public string Version { get; private set; } = "";

    /// <summary>Whether this run packed (false: the cache had them).</summary>
    public bool Packed { get; private set; }

    public TimeSpan Took { get; private set; }

    private string? _failure;

    /// <summary>The path of one of <see cref="Ids"/>.</summary>
    public string Package(string id) => Path.Combine(Directory, $"{id}.{Version}.nupkg");

    /// <summary>Fails with what is missing or what the script printed unless the packages were made.</summary>
    public void AssertPacked() => Assert.True(_failure is null, _failure);

    public async Task InitializeAsync()
    {
        var clock = Stopwatch.StartNew();
        var missing = Toolchain.Where(t => Programs.Find(t.Program) is null).ToList();
        if (!File.Exists("/usr/aarch64-linux-gnu/lib/libc.so")) missing.Add(("the aarch64 libc", "libc6-dev-arm64-cross"));
        if (missing.Count > 0)
        {
            _failure = $"packing the native tool needs {string.Join(", ", missing.Select(m => m.Program))}: apt-get install {string.Join(' ', missing.Select(m => m.Package))} (test.sh installs them)";
            return;
        }

        string cache = Path.Combine(Repo.Root, "artifacts", "test-cache", "native-tool");
        Directory = Path.Combine(cache, Key());
        if (Complete(Directory))
        {
            Took = clock.Elapsed;
            return;
        }

        using var copy = new TempDirectory();
        foreach (string source in Sources) CopyTree(Path.Combine(Repo.Root, source), Path.Combine(copy.Path, source));
        string partial = Directory + ".partial";
        if (System.IO.Directory.Exists(partial)) System.IO.Directory.Delete(partial, recursive: true);
        var (code, output) = await Programs.RunAsync("bash", [Path.Combine(copy.Path, "scripts", "pack-native-tool.sh"), partial], TimeSpan.FromMinutes(20));
        Took = clock.Elapsed;
        if (code != 0 || !Complete(partial))
        {
            _failure = $"scripts/pack-native-tool.sh exited {code}:\n{output}";
            return;
        }
        // The packages of other sources are stale: one set is kept.
        if (System.IO.Directory.Exists(cache))
            foreach (string old in System.IO.Directory.GetDirectories(cache).Where(d => d != partial)) System.IO.Directory.Delete(old, recursive: true);
        System.IO.Directory.Move(partial, Directory);
        Packed = true;
    }

    /// <summary>Whether <paramref name="folder"/> holds the four packages, and then their version.</summary>
    private bool Complete(string folder)
    {
        if (!System.IO.Directory.Exists(folder)) return false;
        string? pointer = System.IO.Directory.GetFiles(folder, "aeterna.*.nupkg")
            .Select(Path.GetFileName)
            .SingleOrDefault(f => char.IsDigit(f!["aeterna.".Length]));
        if (pointer is null) return false;
        Version = Path.GetFileNameWithoutExtension(pointer)["aeterna.".Length..];
        return Ids.All(id => File.Exists(Path.Combine(folder, $"{id}.{Version}.nupkg")));
    }

    /// <summary>SHA-256 of every source file's path and bytes.</summary>
    private static string Key()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (string source in Sources)
        {
            string path = Path.Combine(Repo.Root, source);
            IEnumerable<string> files = File.Exists(path) ? [path] : Files(path).Order(StringComparer.Ordinal);
            foreach (string file in files)
            {
                hash.AppendData(Encoding.UTF8.GetBytes(Path.GetRelativePath(Repo.Root, file) + "\0"));
                hash.AppendData(File.ReadAllBytes(file));
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    /// <summary>The files under <paramref name="directory"/>, without build outputs (bin/, obj/).</summary>
    private static IEnumerable<string> Files(string directory)
    {
        foreach (string file in System.IO.Directory.GetFiles(directory)) yield return file;
        foreach (string sub in System.IO.Directory.GetDirectories(directory))
        {
            if (Path.GetFileName(sub) is "bin" or "obj") continue;
            foreach (string file in Files(sub)) yield return file;
        }
    }

    private static void CopyTree(string source, string target)
    {
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        if (File.Exists(source))
        {
            File.Copy(source, target);
            return;
        }
        foreach (string file in Files(source))
        {
            string to = Path.Combine(target, Path.GetRelativePath(source, file));
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;
}
