namespace Aeterna.Fuzz;

/// <summary>
/// What the harness itself reports as a crash: a decoder that allocated more than its input could
/// pay for, or that broke an invariant of what it returned. Never caught: it ends the run.
/// </summary>
internal sealed class FuzzFinding(string message, Exception? inner = null) : Exception(message, inner);
