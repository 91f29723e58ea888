namespace Aeterna.Tool.Processes;

/// <summary>What to start: program, arguments, complete environment, and which fds it inherits.</summary>
/// <param name="Program">Looked up on the child's PATH unless it contains '/'.</param>
/// <param name="Arguments">Arguments after the program name.</param>
/// <param name="Environment">The complete environment as KEY=VALUE strings.</param>
/// <param name="WorkingDirectory">Absolute directory the child starts in.</param>
/// <param name="InheritedFds">Our fds placed at 3, 4, … in the child (socket activation order).</param>
/// <param name="Stdout">Our fd to use as the child's stdout, or -1 to share ours.</param>
/// <param name="Stderr">Our fd to use as the child's stderr, or -1 to share ours.</param>
internal sealed record SpawnSpec(
    string Program,
    IReadOnlyList<string> Arguments,
    IReadOnlyList<string> Environment,
    string WorkingDirectory,
    IReadOnlyList<int> InheritedFds,
    int Stdout = -1,
    int Stderr = -1);

/// <summary>A started child. Its process group id equals its pid.</summary>
internal sealed record SpawnedProcess(int Pid, Task<ExitStatus> Exited);
