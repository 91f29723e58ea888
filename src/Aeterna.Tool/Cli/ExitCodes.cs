namespace Aeterna.Tool.Cli;

/// <summary>Exit codes of the CLI (docs/cli.md). `start` exits with the active generation's code instead.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int RolledBack = 1;
    public const int InvalidInput = 2;
    public const int Refused = 3;
    public const int NotReady = 4;
    public const int Unreachable = 5;
    public const int StartFailed = 6;
}
