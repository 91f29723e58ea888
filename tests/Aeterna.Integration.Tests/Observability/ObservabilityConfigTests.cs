using Aeterna.Tool.Configuration;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Observability;

/// <summary>observability.history_path: parsing, errors with a fix, and a start that cannot write it.</summary>
public sealed class ObservabilityConfigTests(ITestOutputHelper output)
{
    [Fact]
    public void History_path_is_resolved_against_the_config_and_defaults_to_beside_the_control_socket()
    {
        var relative = ConfigLoader.Parse("service:\n  command: [app]\nobservability:\n  history_path: var/relays.jsonl\n", "/srv/agent/aeterna.yaml");
        Assert.True(relative.Success, string.Join('\n', relative.Errors));
        Assert.Equal("/srv/agent/var/relays.jsonl", relative.Config!.Observability.HistoryPath);

        var absent = ConfigLoader.Parse("service:\n  command: [app]\n", "/srv/agent/aeterna.yaml");
        Assert.Equal(Path.Combine(Path.GetDirectoryName(absent.Config!.Control.SocketPath)!, "relays.jsonl"), absent.Config.Observability.HistoryPath);
    }

    [Fact]
    public void A_directory_or_a_misspelt_key_is_an_error_with_the_fix()
    {
        using var dir = new TempDirectory();
        var directory = ConfigLoader.Parse($"service:\n  command: [app]\nobservability:\n  history_path: {dir.Path}\n", dir.File("aeterna.yaml"));
        var error = Assert.Single(directory.Errors);
        Assert.Equal((4, 17), (error.Line, error.Column));
        Assert.Contains("is a directory", error.Message);
        Assert.Contains("relays.jsonl", error.Fix);

        var misspelt = ConfigLoader.Parse("service:\n  command: [app]\nobservability:\n  history: /tmp/r.jsonl\n", dir.File("aeterna.yaml"));
        Assert.Contains("Did you mean 'history_path'?", Assert.Single(misspelt.Errors).Fix);
    }

    [Fact]
    public async Task A_history_path_that_cannot_be_written_fails_the_start_before_any_generation()
    {
        using var dir = new TempDirectory();
        dir.Write("blocker", "a file where a directory should be");
        string config = new TestConfig
        {
            Command = ["python3", TestApps.PythonServer], Port = FreePort.Get(),
            Observability = ["history_path: blocker/relays.jsonl"],
        }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        Assert.Equal(6, await supervisor.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        string log = string.Join('\n', supervisor.Log);
        Assert.Contains($"cannot start: cannot write the relay history {dir.File("blocker")}/relays.jsonl", log);
        Assert.Contains("Fix:", log);
        Assert.DoesNotContain("generation 1 started", log);
    }
}
