using System.Net.Http;
using System.Text.Json;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Relay;

/// <summary>
/// The evidence of the supervisor issue: real servers relayed 20 times while wrk hammers the
/// shared listener. Not one failed request, not one refused connection, a new pid every time.
/// </summary>
[Collection(LoadTests.Name)]
public sealed class RelayUnderLoadTests(ITestOutputHelper output)
{
    private const int Relays = 20;

    [Fact]
    public Task Gunicorn_unmodified_relays_20_times_under_load() =>
        RelayUnderLoadAsync(_ => TestApps.GunicornCommand(), readiness: "notify");

    [Fact]
    public Task Python_service_relays_20_times_under_load() =>
        RelayUnderLoadAsync(_ => ["python3", TestApps.PythonServer], readiness: "notify");

    [Fact]
    public Task Python_service_that_never_notifies_relays_by_listening_detection() =>
        RelayUnderLoadAsync(_ => ["python3", TestApps.PythonServer, "--mode", "no-notify"], readiness: "auto");

    [Fact]
    public Task Dotnet_service_relays_20_times_under_keep_alive_load() =>
        RelayUnderLoadAsync(_ => ["dotnet", TestApps.DotnetApp], readiness: "notify");

    private async Task RelayUnderLoadAsync(Func<int, IReadOnlyList<string>> command, string readiness)
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var config = new TestConfig { Command = command(port), Port = port, Readiness = readiness, Drain = "15s" }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        await supervisor.WaitForActiveAsync(1);
        string url = $"http://127.0.0.1:{port}/";

        var load = WrkLoad.Start(url);
        await Task.Delay(500);
        var pids = new List<int> { await ServingPidAsync(url) };
        for (int i = 0; i < Relays; i++)
        {
            var (code, report) = await supervisor.RelayAsync();
            Assert.True(code == 0, $"relay {i + 1} exited {code}: {report}");
            Assert.Equal("committed", report.GetProperty("outcome").GetString());
            pids.Add(report.GetProperty("to_pid").GetInt32());
            Assert.False(load.HasExited, $"wrk ended before relay {i + 1}");
        }
        await Task.Delay(500);
        var result = await load.StopAsync();
        output.WriteLine($"wrk: {result}");

        Assert.True(result.Clean, $"the load saw failures across {Relays} relays: {result}");
        Assert.Equal(Relays + 1, pids.Distinct().Count());
        Assert.Equal(pids[^1], await ServingPidAsync(url));
        var status = await supervisor.StatusAsync();
        Assert.Equal(Relays + 1, status.GetProperty("active_generation").GetInt32());
        Assert.Single(status.GetProperty("generations").EnumerateArray()); // every old generation has exited
    }

    internal static async Task<int> ServingPidAsync(string url)
    {
        using var http = new HttpClient();
        var body = await http.GetStringAsync(url);
        return JsonDocument.Parse(body).RootElement.GetProperty("pid").GetInt32();
    }
}

/// <summary>
/// The tests that run wrk, one at a time: two wrk runs on 2 cores would starve each other. The
/// other integration tests mostly wait (on a generation's start, a timeout, a drain) and run
/// beside one another and beside the NativeAOT builds (xunit.runner.json).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LoadTests
{
    public const string Name = "load";
}
