using System.CommandLine;
using Aeterna.Tool.Configuration;

namespace Aeterna.Tool.Cli;

/// <summary>`validate`: check a config without running anything.</summary>
internal static class ValidateCommand
{
    public static Command Create()
    {
        var config = AeternaCli.ConfigOption();
        var command = new Command("validate", "Check a config file and print what it means; exit 0 when valid, 2 otherwise") { config };
        command.SetAction(parse => Run(parse.GetValue(config)!));
        return command;
    }

    private static int Run(FileInfo configFile)
    {
        var loaded = ConfigLoader.Load(configFile.FullName);
        if (!loaded.Success)
        {
            foreach (var error in loaded.Errors) Console.Error.WriteLine(error);
            Console.Error.WriteLine($"{configFile.Name}: {loaded.Errors.Count} error(s)");
            return ExitCodes.InvalidInput;
        }
        var c = loaded.Config!;
        Console.WriteLine($"{configFile.Name} is valid:");
        Console.WriteLine($"  service     {c.Service.Name}: {string.Join(' ', c.Service.Command)} (in {c.Service.WorkingDirectory})");
        Console.WriteLine(c.Listeners.Count == 0 ? "  listeners   none" : $"  listeners   {string.Join(", ", c.Listeners.Select((l, i) => $"{l.Name}={l.Address} (fd {3 + i})"))}");
        Console.WriteLine($"  readiness   {c.Readiness.Mode.ToString().ToLowerInvariant()}, timeout {c.Readiness.Timeout.TotalSeconds:0.###} s{(c.Readiness.Watchdog > TimeSpan.Zero ? $", watchdog {c.Readiness.Watchdog.TotalSeconds:0.###} s" : "")}");
        var o = c.Orchestration;
        Console.WriteLine($"  relay       {o.Preflight.Count} pre-flight command(s), soak {(o.Canary.Enabled ? $"{o.Canary.SoakTime.TotalSeconds:0.###} s" : "off")}, drain timeout {o.DrainTimeout.TotalSeconds:0.###} s");
        Console.WriteLine($"  control     {c.Control.SocketPath}");
        return ExitCodes.Ok;
    }
}
