using Aeterna.Interop;
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
        // NuGet does not keep the executable bits when it extracts a tool package (it leaves
        // 0744: a tool installed by root would not run for the container's non-root user).
        if (!Libc.CanExecute(path))
        {
            const UnixFileMode exec = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
            try { File.SetUnixFileMode(path, File.GetUnixFileMode(path) | exec); }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException)
            {
                throw new SpawnException($"the exec shim {path} is not executable by uid {Libc.GetEffectiveUserId()} and cannot be made so ({e.Message}): run 'chmod a+x {path}' as its owner (the user who installed the tool).");
            }
        }
        return path;
    }
}
