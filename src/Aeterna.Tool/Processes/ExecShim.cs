using System.Runtime.InteropServices;

namespace Aeterna.Tool.Processes;

/// <summary>Finds the exec shim shipped beside the tool (native/&lt;rid&gt;/aeterna-exec).</summary>
internal static class ExecShim
{
    public static string Locate()
    {
        string rid = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => "linux-x64",
            Architecture.Arm64 => "linux-arm64",
            var other => throw new SpawnException($"Aeterna ships no exec shim for {other}: supported are x64 and arm64 Linux."),
        };
        string path = Path.Combine(AppContext.BaseDirectory, "native", rid, "aeterna-exec");
        if (!File.Exists(path))
            throw new SpawnException($"the exec shim {path} is missing: reinstall the tool, or when building from source install a C compiler for {rid} (apt-get install gcc{(rid == "linux-arm64" ? "-aarch64-linux-gnu" : "")}) and rebuild.");
        // NuGet does not keep the executable bit when it extracts a tool package.
        var mode = File.GetUnixFileMode(path);
        const UnixFileMode exec = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        if ((mode & UnixFileMode.UserExecute) == 0)
        {
            try { File.SetUnixFileMode(path, mode | exec); }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException)
            {
                throw new SpawnException($"the exec shim {path} is not executable and cannot be made so ({e.Message}): run 'chmod +x {path}'.");
            }
        }
        return path;
    }
}
