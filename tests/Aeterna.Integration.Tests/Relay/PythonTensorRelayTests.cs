using System.Text.Json;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Integration.Tests.Relay;

/// <summary>
/// A 1 GiB torch tensor in shared memory (aeterna.SharedTensor) crosses a relay of a Python
/// service untouched: the next generation's tensor has the same bytes (CRC-32C over all of them),
/// and it is the same pages: its view maps the very memfd the first generation filled (same
/// inode), the relay copied only the small context, and reading every page of the tensor leaves
/// the new process's private memory far below the tensor's size.
/// </summary>
public sealed class PythonTensorRelayTests(ITestOutputHelper output)
{
    private const long TensorBytes = 1L << 30;

    private static string App => Path.Combine(Repo.Root, "tests", "apps", "python_stateful_app.py");

    [Fact]
    public async Task A_1_GiB_torch_tensor_crosses_a_relay_in_the_same_shared_pages_with_its_checksum_intact()
    {
        using var dir = new TempDirectory();
        int port = FreePort.Get();
        var config = new TestConfig
        {
            // Importing torch on a loaded 2-core machine takes seconds.
            Command = [PythonVenv.Interpreter, App], Port = port, Readiness = "notify", ReadyTimeout = "90s", Drain = "10s",
            Environment = ["PYTHONUNBUFFERED=1"], Handoff = ["enabled: true", "timeout: 30s"],
        }.WriteTo(dir);
        await using var supervisor = SupervisorProcess.Start(config, output);
        var status = await supervisor.WaitForActiveAsync(1, TimeSpan.FromSeconds(120));
        int firstPid = status.GetProperty("generations")[0].GetProperty("pid").GetInt32();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(120), DefaultRequestHeaders = { ConnectionClose = true } };

        for (int i = 0; i < 10; i++)
            (await http.PutAsync($"items/k{i}", new StringContent($"value {i}"))).EnsureSuccessStatusCode();
        using var filled = await http.PostAsync($"tensor?bytes={TensorBytes}&seed=7", null);
        filled.EnsureSuccessStatusCode();
        var before = Parse(await filled.Content.ReadAsStringAsync());
        output.WriteLine($"generation 1 (pid {firstPid}): {before}");
        Assert.Equal(TensorBytes, before.GetProperty("bytes").GetInt64());
        Assert.Equal(before.GetProperty("inode").GetInt64(), before.GetProperty("mapping").GetProperty("inode").GetInt64());

        var (code, report) = await supervisor.RelayAsync("--soak", "0");
        Assert.True(code == 0, $"relay exited {code}: {report}");
        Assert.Equal("committed", report.GetProperty("outcome").GetString());
        var handover = report.GetProperty("handover");
        output.WriteLine($"handover: {handover}");
        Assert.Equal(1, handover.GetProperty("regions").GetInt32());
        Assert.Equal(TensorBytes, handover.GetProperty("region_bytes").GetInt64());
        // Only the context (ten items, the tensor's shape and dtype) was copied, not the tensor.
        Assert.True(handover.GetProperty("state_bytes").GetInt64() < 4096, $"the relay copied {handover.GetProperty("state_bytes")} bytes");

        var after = Parse(await http.GetStringAsync("tensor"));
        var served = Parse(await http.GetStringAsync(""));
        output.WriteLine($"generation 2 (pid {served.GetProperty("pid")}): {after}");
        Assert.Equal(report.GetProperty("to_pid").GetInt32(), served.GetProperty("pid").GetInt32());
        Assert.NotEqual(firstPid, served.GetProperty("pid").GetInt32());
        Assert.Equal(10, served.GetProperty("items").GetInt32());
        Assert.Equal("value 3", await http.GetStringAsync("items/k3"));

        // The same bytes, shape and dtype.
        Assert.Equal(before.GetProperty("crc32c").GetUInt32(), after.GetProperty("crc32c").GetUInt32());
        Assert.Equal(TensorBytes, after.GetProperty("bytes").GetInt64());
        Assert.Equal("float32", after.GetProperty("dtype").GetString());
        Assert.Equal(TensorBytes / 4, after.GetProperty("shape")[0].GetInt64());

        // The same pages: the new generation's tensor is a shared mapping of the memfd generation 1 created.
        var mapping = after.GetProperty("mapping");
        Assert.Equal(before.GetProperty("device").GetInt64(), after.GetProperty("device").GetInt64());
        Assert.Equal(before.GetProperty("inode").GetInt64(), after.GetProperty("inode").GetInt64());
        Assert.Equal(before.GetProperty("inode").GetInt64(), mapping.GetProperty("inode").GetInt64());
        Assert.StartsWith("/memfd:aeterna:tensor", mapping.GetProperty("path").GetString());
        Assert.Equal("rw-s", mapping.GetProperty("perms").GetString());
        Assert.True(mapping.GetProperty("end").GetInt64() - mapping.GetProperty("start").GetInt64() >= TensorBytes);

        // No copy in memory either: the checksum read every page, all of them shared; private memory stays far below 1 GiB.
        var memory = after.GetProperty("memory_kib");
        Assert.True(memory.GetProperty("RssShmem").GetInt64() * 1024 >= TensorBytes, $"the tensor's pages are not all resident as shared memory: {memory}");
        Assert.True(memory.GetProperty("RssAnon").GetInt64() * 1024 < TensorBytes / 2, $"the new generation holds a private copy: {memory}");
    }

    private static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
