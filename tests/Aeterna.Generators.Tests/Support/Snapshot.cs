using System.Runtime.CompilerServices;

namespace Aeterna.Generators.Tests.Support;

/// <summary>
/// Approved files kept in the repo (Snapshots/). A mismatch fails with a line diff; run the tests
/// with AETERNA_UPDATE_SNAPSHOTS=1 to write the new output as the approved file, then review it in git.
/// </summary>
internal static class Snapshot
{
    public static void Match(string name, string actual, [CallerFilePath] string caller = "")
    {
        string directory = Path.Combine(Path.GetDirectoryName(caller)!, "Snapshots");
        string path = Path.Combine(directory, name);
        actual = actual.Replace("\r\n", "\n");
        if (Environment.GetEnvironmentVariable("AETERNA_UPDATE_SNAPSHOTS") == "1")
        {
            Directory.CreateDirectory(directory);
            File.WriteAllText(path, actual);
            return;
        }
        Assert.True(File.Exists(path), $"no approved snapshot {path}; run the tests with AETERNA_UPDATE_SNAPSHOTS=1 to create it, then review it");
        string approved = File.ReadAllText(path).Replace("\r\n", "\n");
        if (approved == actual) return;
        Assert.Fail($"generated source differs from the approved {name} (AETERNA_UPDATE_SNAPSHOTS=1 accepts it):\n{Diff(approved, actual)}");
    }

    /// <summary>The first differing lines, with a little context.</summary>
    private static string Diff(string approved, string actual)
    {
        string[] a = approved.Split('\n'), b = actual.Split('\n');
        int first = 0;
        while (first < a.Length && first < b.Length && a[first] == b[first]) first++;
        var text = new System.Text.StringBuilder();
        for (int i = Math.Max(0, first - 2); i < first; i++) text.AppendLine("  " + a[i]);
        for (int i = first; i < Math.Min(a.Length, first + 8); i++) text.AppendLine("- " + a[i]);
        for (int i = first; i < Math.Min(b.Length, first + 8); i++) text.AppendLine("+ " + b[i]);
        return $"first difference at line {first + 1}:\n{text}";
    }
}
