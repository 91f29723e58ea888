namespace Aeterna.Tests.Support;

/// <summary>
/// Debian's python3 with the aeterna package installed (artifacts/python-venv, made by
/// scripts/python-venv.sh, which test.sh runs): agents in tests import the package as users do.
/// </summary>
internal static class PythonVenv
{
    public static string Interpreter { get; } = Path.Combine(Repo.Root, "artifacts", "python-venv", "bin", "python3");

    /// <summary>
    /// Writes <c>python</c> and <c>python3</c> into <paramref name="binDirectory"/> that run the
    /// venv's interpreter, for configs that name them. A wrapper, not a symlink: Python finds its
    /// venv from the path it was started by, and a link outside the venv would lose it.
    /// </summary>
    public static void WriteLaunchers(string binDirectory)
    {
        Directory.CreateDirectory(binDirectory);
        foreach (string name in (string[])["python", "python3"])
        {
            string path = Path.Combine(binDirectory, name);
            File.WriteAllText(path, $"#!/bin/sh\nexec '{Interpreter}' \"$@\"\n");
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
    }
}
