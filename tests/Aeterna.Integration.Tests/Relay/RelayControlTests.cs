using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Relay;

/// <summary>The ways to ask for a relay (CLI, SIGHUP) and the one-relay-at-a-time rule.</summary>
public sealed class RelayControlTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_relay_requested_during_a_relay_gets_a_clear_refusal()
    {
        using var dir = new TempDirectory();
        var config = new TestConfig { Command = ["python3", TestApps.PythonServer], Port = FreePort.Get(), Soak = "3s" }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);

        var first = supervisor.RelayAsync();
        await supervisor.WaitForLogAsync("relay 1: ready ok");
        var (code, stdout, stderr) = await ToolCli.RunAsync("relay", "-c", config);
        Assert.Equal(3, code);
        Assert.Contains("relay 1 (from control socket) is running, in phase 'soak'", stdout + stderr);

        var (firstCode, report) = await first;
        Assert.Equal(0, firstCode);
        Assert.Equal(2, report.GetProperty("to_generation").GetInt32());
    }

    [Fact]
    public async Task Sighup_relays()
    {
        using var dir = new TempDirectory();
        var config = new TestConfig { Command = ["python3", TestApps.PythonServer], Port = FreePort.Get() }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);
        supervisor.Signal(Posix.SIGHUP);
        await supervisor.WaitForLogAsync("relay 1 committed");
        await supervisor.WaitForActiveAsync(2);
    }

    [Fact]
    public async Task Sighup_with_an_invalid_config_is_refused_and_names_the_error()
    {
        using var dir = new TempDirectory();
        var config = new TestConfig { Command = ["python3", TestApps.PythonServer], Port = FreePort.Get() }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);
        File.AppendAllText(config, "unknown_section: 1\n");
        supervisor.Signal(Posix.SIGHUP);
        var line = await supervisor.WaitForLogAsync("relay 1 refused");
        Assert.Contains("unknown_section", string.Join('\n', supervisor.Log));
        Assert.Equal(1, (await supervisor.StatusAsync()).GetProperty("active_generation").GetInt32());
    }

    [Fact]
    public async Task Status_and_stop_talk_to_the_running_supervisor()
    {
        using var dir = new TempDirectory();
        var config = new TestConfig { Command = ["python3", TestApps.PythonServer], Port = FreePort.Get() }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);

        var (code, stdout, _) = await ToolCli.RunAsync("status", "-c", config);
        Assert.Equal(0, code);
        Assert.Contains("* 1", stdout);
        Assert.Contains("active", stdout);

        (code, stdout, _) = await ToolCli.RunAsync("stop", "-c", config);
        Assert.Equal(0, code);
        Assert.Equal(0, await supervisor.WaitForExitAsync());

        var (after, _, stderr) = await ToolCli.RunAsync("status", "-c", config);
        Assert.Equal(5, after);
        Assert.Contains("cannot reach the supervisor", stderr);
    }
}
