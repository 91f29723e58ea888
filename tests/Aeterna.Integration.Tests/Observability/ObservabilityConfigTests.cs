using Aeterna.Tool.Configuration;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Observability;

/// <summary>observability.history_path: a start that cannot write it (how it is read: the config tests).</summary>
public sealed class ObservabilityConfigTests(ITestOutputHelper output)
{
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
