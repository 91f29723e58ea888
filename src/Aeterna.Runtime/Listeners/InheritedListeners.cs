using System.Globalization;

namespace Aeterna.Listeners;

/// <summary>
/// The sockets this process inherited by systemd socket activation: fds 3, 4, … when
/// <c>LISTEN_PID</c> is our pid, <c>LISTEN_FDS</c> says how many and <c>LISTEN_FDNAMES</c> names them.
/// Read once; the variables are left in place for libraries that read them too.
/// </summary>
internal static class InheritedListeners
{
    private const int FirstFd = 3;

    private static readonly Lazy<IReadOnlyDictionary<string, int>> s_byName = new(Read);

    /// <summary>Listener name → fd. Unnamed fds are called "fd3", "fd4", ….</summary>
    public static IReadOnlyDictionary<string, int> ByName => s_byName.Value;

    private static Dictionary<string, int> Read()
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        if (Environment.GetEnvironmentVariable("LISTEN_PID") != Environment.ProcessId.ToString(CultureInfo.InvariantCulture)) return result;
        if (!int.TryParse(Environment.GetEnvironmentVariable("LISTEN_FDS"), NumberStyles.None, CultureInfo.InvariantCulture, out int count)) return result;
        string[] names = (Environment.GetEnvironmentVariable("LISTEN_FDNAMES") ?? "").Split(':');
        for (int i = 0; i < count; i++)
        {
            string name = i < names.Length && names[i].Length > 0 ? names[i] : $"fd{FirstFd + i}";
            result.TryAdd(name, FirstFd + i);
        }
        return result;
    }
}
