namespace Aeterna.Tool.Processes;

/// <summary>Resolves a program the way execvp will, to check before a relay that it can run.</summary>
internal static class CommandResolver
{
    /// <summary>Null when <paramref name="program"/> resolves to an executable file; otherwise what is wrong and the fix.</summary>
    public static string? Problem(string program, string workingDirectory, string searchPath)
    {
        if (program.Contains('/'))
        {
            string path = Path.GetFullPath(program, workingDirectory);
            if (!File.Exists(path))
                return $"'{program}' does not exist (resolved to {path}). Fix: correct service.command, or deploy the file first";
            return IsExecutable(path) ? null : $"'{path}' is not executable. Fix: chmod +x {path}";
        }
        foreach (var dir in searchPath.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(Path.GetFullPath(dir, workingDirectory), program);
            if (File.Exists(candidate) && IsExecutable(candidate)) return null;
        }
        return $"'{program}' is not found on PATH ({searchPath}). Fix: install it, or give its absolute path in the command";
    }

    private static bool IsExecutable(string path)
    {
        const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        return (File.GetUnixFileMode(path) & anyExecute) != 0;
    }
}
