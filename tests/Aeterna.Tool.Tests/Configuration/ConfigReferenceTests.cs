using System.Diagnostics;
using System.Text.RegularExpressions;
using Aeterna.Tool.Configuration;
using Aeterna.Tests.Support;
using Xunit.Abstractions;

namespace Aeterna.Tool.Tests.Configuration;

/// <summary>
/// The reference in docs/configuration.md and aeterna.schema.json are what ConfigTable generates;
/// the schema is valid draft-07 and agrees with the loader on the example configs; every example
/// in the table loads. <c>AETERNA_WRITE_REFERENCE=1</c> writes the generated files instead of
/// failing on a difference.
/// </summary>
public sealed class ConfigReferenceTests(ITestOutputHelper output) : IDisposable
{
    private static readonly string Docs = Path.Combine(Repo.Root, "docs", "configuration.md");
    private static readonly string SchemaFile = Path.Combine(Repo.Root, "docs", "aeterna.schema.json");
    private static readonly string Examples = Path.Combine(Repo.Root, "tests", "Aeterna.Tool.Tests", "Configuration", "Examples");
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void The_key_tables_in_docs_are_the_table()
    {
        string written = File.ReadAllText(Docs);
        AssertGenerated(Docs, written, ConfigReference.Markdown(written));
        // Every section has its table, once.
        Assert.Equal(ConfigTable.Sections.Select(s => s.Path).Order(), ConfigReference.TablesIn(written).Order());
        foreach (var section in ConfigTable.Sections.Skip(1))
            Assert.Contains($"`{section.Path}`", written.Split('\n').Where(l => l.StartsWith('#')).Select(l => l.Trim('#', ' ')).Where(l => l.StartsWith('`')).Select(l => l.Split(' ')[0]));
    }

    [Fact]
    public void The_schema_file_is_what_the_table_generates()
    {
        AssertGenerated(SchemaFile, File.Exists(SchemaFile) ? File.ReadAllText(SchemaFile) : "", ConfigReference.Schema());
    }

    [Fact]
    public void The_template_and_the_sample_name_the_schema_and_have_it_beside_their_configs()
    {
        string schema = File.ReadAllText(SchemaFile);
        foreach (string project in (string[])[Path.Combine(Repo.Root, "templates", "aeterna-agent"), Path.Combine(Repo.Root, "samples", "chat-agent")])
        {
            Assert.Equal(schema, File.ReadAllText(Path.Combine(project, "aeterna.schema.json")));
            Assert.StartsWith("# yaml-language-server: $schema=aeterna.schema.json\n", File.ReadAllText(Path.Combine(project, "aeterna.yaml")));
            Assert.StartsWith("# yaml-language-server: $schema=../aeterna.schema.json\n", File.ReadAllText(Path.Combine(project, "deploy", "aeterna.yaml")));
        }
    }

    [Fact]
    public void Every_example_in_the_table_loads_and_every_default_is_written_as_it_is_read()
    {
        Directory.CreateDirectory(_dir.File("app"));
        foreach (var section in ConfigTable.Sections)
            foreach (var key in section.Keys)
            {
                string yaml = ConfigWith(section, key.Name, key.Example);
                var result = ConfigLoader.Parse(yaml, _dir.File("aeterna.yaml"));
                Assert.True(result.Success, $"the example of {section.Path}.{key.Name} does not load:\n{yaml}\n{string.Join('\n', result.Errors)}");

                // A default written out reads back as the same config.
                if (key.Default is { } value)
                {
                    var withDefault = ConfigLoader.Parse(ConfigWith(section, key.Name, value), _dir.File("aeterna.yaml"));
                    var without = ConfigLoader.Parse(ConfigWith(section, null, null), _dir.File("aeterna.yaml"));
                    Assert.True(withDefault.Success, $"the default of {section.Path}.{key.Name}, {value}, does not load: {string.Join('\n', withDefault.Errors)}");
                    Assert.Equal(Describe(without.Config!), Describe(withDefault.Config!));
                }
            }
    }

    [Fact]
    public void Every_yaml_example_in_the_docs_loads_and_the_error_example_gives_the_errors_it_shows()
    {
        var blocks = Regex.Matches(File.ReadAllText(Docs), "```(?<lang>[a-z]*)\n(?<text>.*?)```", RegexOptions.Singleline).ToList();
        int checkedErrors = 0;
        for (int i = 0; i < blocks.Count; i++)
        {
            if (blocks[i].Groups["lang"].Value != "yaml") continue;
            string yaml = blocks[i].Groups["text"].Value;
            if (i + 1 < blocks.Count && blocks[i + 1].Groups["text"].Value.StartsWith("$ dotnet aeterna validate", StringComparison.Ordinal))
            {
                string[] shown = blocks[i + 1].Groups["text"].Value.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1..^1];
                var errors = ConfigLoader.Parse(yaml, "/srv/agent/aeterna.yaml").Errors.Select(e => e.ToString());
                Assert.Equal(shown, errors);
                checkedErrors++;
                continue;
            }
            var result = ConfigLoader.Parse(yaml.Contains("service:", StringComparison.Ordinal) ? yaml : "service: {command: [app]}\n" + yaml, _dir.File("aeterna.yaml"));
            Assert.True(result.Success, $"this example in docs/configuration.md does not load:\n{yaml}\n{string.Join('\n', result.Errors)}");
        }
        Assert.Equal(1, checkedErrors);
    }

    [Fact]
    public void The_schema_is_valid_draft_07_and_agrees_with_the_loader()
    {
        string schema = _dir.Write("aeterna.schema.json", ConfigReference.Schema());
        var valid = new List<string>
        {
            Path.Combine(Examples, "minimal.yaml"), Path.Combine(Examples, "full.yaml"), Path.Combine(Examples, "every-key.yaml"),
            Path.Combine(Repo.Root, "templates", "aeterna-agent", "aeterna.yaml"), Path.Combine(Repo.Root, "templates", "aeterna-agent", "deploy", "aeterna.yaml"),
        };
        // What the loader reads as written, the schema accepts too: a key with no value (not set), an
        // empty section, booleans and whole numbers quoted or in another case.
        string[] right =
        [
            "service:\n  command: [app]\nreadiness:\n  timeout:\n  delay: ~\nwatch:\n",
            "service:\n  command: [app]\n  env:\norchestration:\n  canary:\n    enabled: \"true\"\n    min_requests: \"20\"\n  state_handoff:\n    enabled: FALSE\n",
            "service:\n  command: [app]\nlisteners:\n  - name: http\n    address: tcp://127.0.0.1:0\n    backlog: \"128\"\nobservability:\nwatch: {config: \"True\"}\n",
        ];
        for (int i = 0; i < right.Length; i++)
        {
            var loaded = ConfigLoader.Parse(right[i], _dir.File("loader.yaml"));
            Assert.True(loaded.Success, $"the loader refuses\n{right[i]}\n{string.Join('\n', loaded.Errors)}");
            valid.Add(_dir.Write($"right-{i}.yaml", right[i]));
        }
        var invalid = new List<string>();
        string[] wrong =
        [
            "service:\n  comand: [app]\n",                                  // unknown key
            "service:\n  name: agent\n",                                     // no command
            "readiness:\n  timeout: 30\n",                                   // a duration without a unit
            "readiness:\n  mode: fast\n",                                    // not a mode
            "listeners:\n  - name: http\n    address: 0.0.0.0:80\n",         // no scheme
            "listeners:\n  - name: \"a:b\"\n    address: tcp://0.0.0.0:80\n", // not a name
            "listeners:\n  - name: http\n    address: tcp://0.0.0.0:80\n    backlog: 0\n",
            "orchestration:\n  canary:\n    enabled: maybe\n",
            "orchestration:\n  canary:\n    max_error_rate: 1.5\n",
            "orchestration:\n  state_handoff:\n    max_state_size: 1 gigabyte\n",
            "orchestration:\n  preflight: [{timeout: 5s}]\n",                 // no run
            "observability:\n  metrics_port: 70000\n",
            "watch:\n  paths: /app\n",                                       // a list
            "service:\n  command:\n",                                        // a required key with no value
            "orchestration:\n  canary:\n    enabled: \"yes\"\n",
        ];
        for (int i = 0; i < wrong.Length; i++)
        {
            string yaml = (wrong[i].StartsWith("service:") ? "" : "service:\n  command: [app]\n") + wrong[i];
            Assert.False(ConfigLoader.Parse(yaml, _dir.File("loader.yaml")).Success, $"the loader accepts\n{yaml}");
            invalid.Add(_dir.Write($"wrong-{i}.yaml", yaml));
        }

        var check = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in (string[])[Path.Combine(Repo.Root, "tests", "Aeterna.Tool.Tests", "Configuration", "schema-check.py"), schema,
                     .. valid.Select(f => $"valid:{f}"), .. invalid.Select(f => $"invalid:{f}")])
            check.ArgumentList.Add(arg);
        using var process = Process.Start(check)!;
        string stdout = process.StandardOutput.ReadToEnd(), stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        output.WriteLine(stdout + stderr);
        Assert.False(stderr.Contains("No module named", StringComparison.Ordinal), "the schema check needs Debian's python3-jsonschema and python3-yaml (./test.sh installs them): " + stderr);
        Assert.True(process.ExitCode == 0, stdout + stderr);
        Assert.Contains($"{valid.Count + invalid.Count} file(s), all as expected", stdout);
    }

    /// <summary>A config with <paramref name="key"/> of <paramref name="section"/> set to <paramref name="value"/> (none: just what is required).</summary>
    private static string ConfigWith(ConfigSection section, string? key, string? value)
    {
        string Mapping(ConfigSection s, string? inner, string? innerValue) =>
            "{" + string.Join(", ", s.Keys.Where(k => k.Required || k.Name == inner).Select(k => $"{k.Name}: {(k.Name == inner ? innerValue : Filler(k))}")) + "}";
        string text = Mapping(section, key, value);
        for (var s = section; s != ConfigTable.Root;)
        {
            var (parent, opener) = ConfigTable.Sections.SelectMany(p => p.Keys.Where(k => k.Kind.Section == s).Select(k => (p, k))).First();
            text = Mapping(parent, opener.Name, opener.Kind.IsMapping ? text : $"[{text}]");
            s = parent;
        }
        return text + "\n"; // a flow mapping is a whole YAML document
    }

    /// <summary>A required key's value when it is not the one under test; a listener on a free port so that examples of the others don't clash.</summary>
    private static string Filler(ConfigKey key) => key.Name == "address" ? "\"tcp://127.0.0.1:0\"" : key.Name == "service" ? "{command: [app]}" : key.Example;

    /// <summary>The records as text, lists with their items (a record prints a list as its type).</summary>
    private static string Describe(AeternaConfig c) =>
        string.Join('\n', c, string.Join(',', c.Service.Command), string.Join(',', c.Service.Environment), string.Join(',', c.Listeners),
            string.Join(',', c.Orchestration.Preflight), string.Join(',', c.Watch.Paths));

    private void AssertGenerated(string file, string written, string generated)
    {
        if (written == generated) return;
        if (Environment.GetEnvironmentVariable("AETERNA_WRITE_REFERENCE") == "1")
        {
            File.WriteAllText(file, generated);
            output.WriteLine($"wrote {file}");
            return;
        }
        string[] a = written.Split('\n'), b = generated.Split('\n');
        int line = Enumerable.Range(0, Math.Min(a.Length, b.Length)).FirstOrDefault(i => a[i] != b[i], Math.Min(a.Length, b.Length));
        Assert.Fail($"{Path.GetRelativePath(Repo.Root, file)} is not what src/Aeterna.Tool/Configuration/ConfigTable.cs generates, from line {line + 1}:\n" +
            $"  written:   {(line < a.Length ? a[line] : "(end)")}\n  generated: {(line < b.Length ? b[line] : "(end)")}\n" +
            "Regenerate it: AETERNA_WRITE_REFERENCE=1 dotnet test tests/Aeterna.Tool.Tests --filter ConfigReferenceTests");
    }
}
