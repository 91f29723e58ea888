using System.Net;
using System.Text.Json;

namespace Aeterna.Tests.Support;

/// <summary>HTTP client of the stateful test app: writes items, reads them back, says who answered.</summary>
internal sealed class StoreClient(int port) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30) };

    public async Task<bool> PutAsync(string key, string value)
    {
        using var response = await _http.PutAsync($"items/{key}", new StringContent(value));
        return response.StatusCode == HttpStatusCode.NoContent;
    }

    public async Task<string?> GetAsync(string key)
    {
        using var response = await _http.GetAsync($"items/{key}");
        return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadAsStringAsync() : null;
    }

    /// <summary>The pid that answered GET /, and how many items it holds.</summary>
    public async Task<(int Pid, int Items)> WhoAsync()
    {
        var root = JsonDocument.Parse(await _http.GetStringAsync("")).RootElement;
        return (root.GetProperty("pid").GetInt32(), root.GetProperty("items").GetInt32());
    }

    public async Task<(long Floats, uint Crc)> FillMemoryAsync(long floats, int seed)
    {
        using var response = await _http.PostAsync($"memory?floats={floats}&seed={seed}", null);
        var root = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        return (root.GetProperty("floats").GetInt64(), root.GetProperty("crc").GetUInt32());
    }

    public async Task<(long Floats, uint Crc)> MemoryAsync()
    {
        var root = JsonDocument.Parse(await _http.GetStringAsync("memory")).RootElement;
        return (root.GetProperty("floats").GetInt64(), root.GetProperty("crc").GetUInt32());
    }

    /// <summary>
    /// Writes k0, k1, … one after another until cancelled, as a client would: every write that was
    /// acknowledged (204) is recorded, every one that failed too.
    /// </summary>
    public async Task<(List<string> Acknowledged, List<string> Failed)> WriteUntilAsync(CancellationToken stop)
    {
        var (acknowledged, failed) = await WriteTimedUntilAsync(stop);
        return ([.. acknowledged.Select(a => a.Key)], failed);
    }

    /// <summary>As <see cref="WriteUntilAsync"/>, with the Stopwatch timestamp at which each write was acknowledged.</summary>
    public async Task<(List<(string Key, long AcknowledgedAt)> Acknowledged, List<string> Failed)> WriteTimedUntilAsync(CancellationToken stop)
    {
        var acknowledged = new List<(string, long)>();
        var failed = new List<string>();
        for (int i = 0; !stop.IsCancellationRequested; i++)
        {
            string key = $"k{i}";
            try
            {
                if (await PutAsync(key, $"v{i}")) acknowledged.Add((key, System.Diagnostics.Stopwatch.GetTimestamp()));
                else failed.Add($"{key}: not acknowledged");
            }
            catch (HttpRequestException e)
            {
                failed.Add($"{key}: {e.Message}");
            }
        }
        return (acknowledged, failed);
    }

    public void Dispose() => _http.Dispose();
}
