using Aeterna.Addresses;
using System.Globalization;
using System.Text;
using Aeterna.Interop;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// Where the control socket lives when <c>control.socket_path</c> is not set:
/// <c>&lt;base&gt;/aeterna-&lt;uid&gt;/&lt;config name&gt;-&lt;hash&gt;/control.sock</c>, base being
/// $XDG_RUNTIME_DIR (when absolute) or /tmp. It depends on the config file's absolute path only
/// (the hash, 64-bit FNV-1a, is of that path): so <c>status -c x.yaml</c> finds the supervisor that
/// <c>start -c x.yaml</c> started even while x.yaml is being edited or is invalid, and two
/// configs never collide.
/// </summary>
internal static class ControlSocketPath
{
    /// <summary>
    /// The per-generation notify sockets (notify-&lt;n&gt;.sock) share the control socket's
    /// directory, so the directory must leave room for the longest of them.
    /// </summary>
    public const string LongestSiblingName = "notify-2147483647.sock";

    public static string Default(string configPath) =>
        Default(configPath, Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR"), Libc.GetEffectiveUserId());

    /// <summary>The default for an explicit runtime directory and uid (tests call this directly).</summary>
    public static string Default(string configPath, string? runtimeDirectory, uint uid)
    {
        string name = ConfigText.FileName(configPath, 32);
        string baseDirectory = !string.IsNullOrEmpty(runtimeDirectory) && Path.IsPathRooted(runtimeDirectory) ? runtimeDirectory : "/tmp";
        string user = "aeterna-" + uid.ToString(CultureInfo.InvariantCulture);
        ulong hash = Fnv1a.Hash64(Encoding.UTF8.GetBytes(Path.GetFullPath(configPath)));
        string directory = Path.Combine(baseDirectory, user, $"{name}-{hash >> 32:x8}");
        if (DirectoryFits(directory))
            return Path.Combine(directory, "control.sock");
        // Too long for sun_path (deep $XDG_RUNTIME_DIR): a short path that still
        // gets a directory of its own, because the notify sockets of two services must not collide.
        return Path.Combine("/tmp", user, $"{hash:x16}", "control.sock");
    }

    /// <summary>Whether both control.sock and every notify socket fit in <paramref name="directory"/>.</summary>
    public static bool DirectoryFits(string directory) => UnixSocketPath.Fits(Path.Combine(directory, LongestSiblingName));
}
