using System.Collections;
using System.Text.Json;
using Aeterna.Build;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Aeterna.Serialization.Tests.Schema;

/// <summary>The build task reads the schema the generator stored in this very test assembly and writes the manifest.</summary>
public sealed class ManifestTaskTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("aeterna-manifest-").FullName;

    [Fact]
    public void Writes_the_manifest_of_the_assembly_and_its_references()
    {
        string output = Path.Combine(_directory, "app.relay.json");
        var task = new WriteRelayManifest
        {
            BuildEngine = new QuietBuildEngine(),
            Assembly = new TaskItem(typeof(ManifestTaskTests).Assembly.Location),
            References = [new TaskItem(typeof(IRelayState).Assembly.Location), new TaskItem(typeof(object).Assembly.Location)],
            OutputFile = output,
        };
        Assert.True(task.Execute());

        using var manifest = JsonDocument.Parse(File.ReadAllText(output));
        Assert.Equal(1, manifest.RootElement.GetProperty("format").GetInt32());
        var types = manifest.RootElement.GetProperty("types").EnumerateArray().ToList();
        var memory = types.Single(t => t.GetProperty("name").GetString() == "Aeterna.Serialization.Tests.RoundTrip.AgentMemory");
        var history = memory.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("key").GetString() == "history");
        Assert.Equal("array<object>", history.GetProperty("wire").GetString());
        Assert.Equal(16, memory.GetProperty("fingerprint").GetString()!.Length);
        // Each type is described exactly as the running app reports it (RelaySchema.ManifestJson, which
        // here also holds the types of assemblies other tests compiled and loaded).
        foreach (var type in types) Assert.Contains(type.GetRawText(), RelaySchema.ManifestJson);
    }

    [Fact]
    public void An_assembly_without_relay_state_gives_an_empty_manifest()
    {
        string output = Path.Combine(_directory, "none.relay.json");
        var task = new WriteRelayManifest { BuildEngine = new QuietBuildEngine(), Assembly = new TaskItem(typeof(object).Assembly.Location), OutputFile = output };
        Assert.True(task.Execute());
        Assert.Equal("{\"format\":1,\"types\":[]}\n", File.ReadAllText(output));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private sealed class QuietBuildEngine : IBuildEngine
    {
        public bool ContinueOnError => false;
        public int LineNumberOfTaskNode => 0;
        public int ColumnNumberOfTaskNode => 0;
        public string ProjectFileOfTaskNode => "";
        public bool BuildProjectFile(string projectFileName, string[] targetNames, IDictionary globalProperties, IDictionary targetOutputs) => false;
        public void LogCustomEvent(CustomBuildEventArgs e) { }
        public void LogErrorEvent(BuildErrorEventArgs e) => throw new InvalidOperationException(e.Message);
        public void LogMessageEvent(BuildMessageEventArgs e) { }
        public void LogWarningEvent(BuildWarningEventArgs e) => throw new InvalidOperationException(e.Message);
    }
}
