namespace Aeterna.Tool.Configuration;

/// <summary>
/// One problem in a config file: where it is (1-based line and column of the offending key or
/// value), what is wrong and how to fix it. Prints like a compiler diagnostic so that editors
/// and terminals can jump to it.
/// </summary>
internal sealed record ConfigError(string File, int Line, int Column, string Message, string Fix)
{
    public override string ToString() => $"{File}:{Line}:{Column}: error: {Message} Fix: {Fix}";
}
