namespace Aeterna.Generators.Tests.Support;

/// <summary>The repository's root (the folder holding Aeterna.sln), found from the test binaries.</summary>
internal static class Repo
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Aeterna.sln"))) return dir.FullName;
        throw new InvalidOperationException("Aeterna.sln not found above " + AppContext.BaseDirectory);
    }
}
