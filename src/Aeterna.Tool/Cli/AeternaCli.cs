using System.CommandLine;

namespace Aeterna.Tool.Cli;

/// <summary>The command line: start, relay, rollback, status, stop, validate.</summary>
internal static class AeternaCli
{
    public static RootCommand Create()
    {
        var root = new RootCommand(
            "Aeterna: zero-downtime, in-place updates. A supervisor holds the listening sockets, starts the new version beside the old, soaks it, and only then retires the old one.");
        root.Subcommands.Add(StartCommand.Create());
        root.Subcommands.Add(RelayCommand.Create());
        root.Subcommands.Add(RollbackCommand.Create());
        root.Subcommands.Add(StatusCommand.Create());
        root.Subcommands.Add(StopCommand.Create());
        root.Subcommands.Add(ValidateCommand.Create());
        return root;
    }

    /// <summary>-c/--config, shared by every command.</summary>
    public static Option<FileInfo> ConfigOption() => new("--config", "-c")
    {
        Description = "The aeterna.yaml to use",
        DefaultValueFactory = _ => new FileInfo("aeterna.yaml"),
    };
}
