using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Supervision;

/// <summary>Opt-in convergence: a changed config relays by itself; a bad change is refused once, not retried in a loop.</summary>
public sealed class WatchTests(ITestOutputHelper output)
{
    private const string Watch = "watch:\n  config: true\n  debounce: 300ms\n";

    [Fact]
    public async Task A_changed_config_relays_and_a_bad_change_is_not_retried_in_a_loop()
    {
        using var dir = new TempDirectory();
        var v1 = new TestConfig { Command = ["python3", TestApps.PythonServer], Port = FreePort.Get(), Environment = ["APP_VERSION=v1"] };
        string config = dir.Write("aeterna.yaml", v1.ToYaml() + Watch);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);

        // A new version is deployed by changing the file: nobody runs `relay`.
        File.WriteAllText(config, (v1 with { Environment = ["APP_VERSION=v2"] }).ToYaml() + Watch);
        await supervisor.WaitForLogAsync("relay 1 committed");
        await supervisor.WaitForActiveAsync(2);

        // A broken file is refused once and left alone until it changes again.
        File.WriteAllText(config, "service:\n  command: [python3]\n  nonsense: 1\n" + Watch);
        await supervisor.WaitForLogAsync("relay 2 refused");
        await Task.Delay(3000);
        Assert.DoesNotContain(supervisor.Log, l => l.Contains("relay 3", StringComparison.Ordinal));

        File.WriteAllText(config, (v1 with { Environment = ["APP_VERSION=v3"] }).ToYaml() + Watch);
        await supervisor.WaitForLogAsync("relay 3 committed");
        Assert.Equal(3, (await supervisor.StatusAsync()).GetProperty("active_generation").GetInt32());
    }
}
