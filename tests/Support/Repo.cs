namespace Aeterna.Tests.Support;

/// <summary>Where the repository and the build outputs are.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

#if DEBUG
    public const string Configuration = "Debug";
#else
    public const string Configuration = "Release";
#endif

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Aeterna.sln"))) return dir.FullName;
        throw new InvalidOperationException("Aeterna.sln not found above " + AppContext.BaseDirectory);
    }
}
