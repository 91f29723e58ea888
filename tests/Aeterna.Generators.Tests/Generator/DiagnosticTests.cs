using Aeterna.Generators.Diagnostics;
using Aeterna.Generators.Tests.Support;
using Aeterna.Tests.Support;
using Microsoft.CodeAnalysis;

namespace Aeterna.Generators.Tests.Generator;

/// <summary>Each diagnostic: a case that raises it (naming the member and the fix) and a close one that does not.</summary>
public class DiagnosticTests
{
    public static TheoryData<string, string, string, string> Cases => new()
    {
        // id, source that raises it, a word the message must contain, the same source fixed
        { "AET0001", "public class S { [RelayState] public int A { get; set; } }", "partial", "public partial class S { [RelayState] public int A { get; set; } }" },
        { "AET0001", "public class Outer { public partial class S { [RelayState] public int A; } }", "Outer", "public partial class Outer { public partial class S { [RelayState] public int A; } }" },
        { "AET0002", "public partial class S { [RelayState] public Dictionary<string, System.IO.Stream> A = new(); }", "'System.IO.Stream'", "public partial class S { [RelayState] public Dictionary<string, byte[]> A = new(); }" },
        { "AET0002", "public partial class S { [RelayState] public IList<int> A = new List<int>(); }", "List<T>", "public partial class S { [RelayState] public List<int> A = new(); }" },
        { "AET0002", "public partial class S { [RelayState] public object A = new(); }", "S.A", "public partial class S { [RelayState] public string A = \"\"; }" },
        { "AET0003", "public partial class S { [RelayState] private readonly List<int> _a = new(); }", "remove 'readonly'", "public partial class S { [RelayState] private List<int> _a = new(); }" },
        { "AET0004", "public partial class S { [RelayState] public static int A; }", "static", "public partial class S { [RelayState] public int A; }" },
        { "AET0005", "public partial class S { [RelayState] public int A; [RelayState(\"a\")] public int B; }", "'a'", "public partial class S { [RelayState] public int A; [RelayState(\"b\")] public int B; }" },
        { "AET0006", "[RelayRemovedKeys(\"old\")] public partial class S { [RelayState] public int Old; }", "removed", "[RelayRemovedKeys(\"old\")] public partial class S { [RelayState] public int Newer; }" },
        { "AET0007", "public partial class S { [RelayState] public int A => 1; }", "setter", "public partial class S { [RelayState] public int A { get; private set; } }" },
        { "AET0009", "public partial class S { [RelayState(\" \")] public int A; }", "empty key", "public partial class S { [RelayState(\"a\")] public int A; }" },
        { "AET0010", "public partial class S { public S(int x) { } [RelayState] public int A; }", "parameterless", "public partial class S { public S(int x) { } private S() { } [RelayState] public int A; }" },
        { "AET0010", "public abstract partial class S { [RelayState] public int A; }", "abstract", "public partial class S { [RelayState] public int A; }" },
        { "AET0011", "public partial class S<T> { [RelayState] public int A; }", "generic", "public partial class S { [RelayState] public int A; }" },
        { "AET0011", "public readonly partial struct S { [RelayState] public int A { get; init; } }", "readonly", "public partial struct S { [RelayState] public int A { get; init; } }" },
        { "AET0012", "public partial class S { [RelayState] public int this[int i] { get => 0; set { } } }", "indexer", "public partial class S { [RelayState] public int A { get; set; } }" },
        { "AET0013", "public partial class B { [RelayState] public int A; } public partial class S : B { [RelayState] public int C; }", "derives", "public partial class B { [RelayState] public int A; } public partial class S { [RelayState] public B Base = new(); [RelayState] public int C; }" },
        { "AET0020", "[assembly: RelayListener(\"http\", \"tcp://0.0.0.0:1\")] [assembly: RelayListener(\"http\", \"tcp://0.0.0.0:2\")]", "more than once", "[assembly: RelayListener(\"http\", \"tcp://0.0.0.0:1\")] [assembly: RelayListener(\"admin\", \"tcp://0.0.0.0:2\")]" },
        { "AET0021", "[assembly: RelayListener(\"http\", \"tcp://0.0.0.0\")]", "no port", "[assembly: RelayListener(\"http\", \"tcp://0.0.0.0:8080\")]" },
        { "AET0021", "[assembly: RelayListener(\"http\", \"0.0.0.0:8080\")]", "tcp://", "[assembly: RelayListener(\"http\", \"unix:///run/a.sock\")]" },
        { "AET0021", "[assembly: RelayListener(\"http\", \"tcp://[::1]:99999\")]", "99999", "[assembly: RelayListener(\"http\", \"tcp://[::1]:9999\")]" },
        { "AET0022", "[assembly: RelayListener(\"a:b\", \"tcp://0.0.0.0:1\")]", "LISTEN_FDNAMES", "[assembly: RelayListener(\"a-b\", \"tcp://0.0.0.0:1\")]" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Raised_with_the_member_and_fix_and_not_once_fixed(string id, string bad, string mentions, string good)
    {
        var raised = Diagnose(bad);
        var diagnostic = raised.SingleOrDefault(d => d.Id == id);
        Assert.True(diagnostic is not null, $"expected {id}, got: {string.Join("; ", raised)}");
        string message = diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(mentions, message);
        Assert.Contains("Fix:", message);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Equal("https://example.invalid/aeterna/blob/main/docs/diagnostics.md#" + id.ToLowerInvariant(), diagnostic.Descriptor.HelpLinkUri);
        var where = diagnostic.Location.GetLineSpan();
        Assert.True(where.IsValid && where.Path.EndsWith(".cs", StringComparison.Ordinal), "the diagnostic points at the source");

        var (run, output) = GeneratorHarness.Run("Good", Wrap(good));
        Assert.Empty(run.Diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
    }

    [Fact]
    public void Key_hash_collisions_are_reported()
    {
        // Two distinct keys with the same 32-bit FNV-1a hash (found by search; see docs/diagnostics.md#aet0008).
        var (a, b) = Collision();
        var raised = Diagnose($"public partial class S {{ [RelayState(\"{a}\")] public int A; [RelayState(\"{b}\")] public int B; }}");
        Assert.Contains(raised, d => d.Id == "AET0008");
    }

    [Fact]
    public void Every_diagnostic_has_a_section_in_the_docs()
    {
        string docs = File.ReadAllText(Path.Combine(Repo.Root, "docs", "diagnostics.md"));
        foreach (var descriptor in RelayDiagnostics.All)
            Assert.Contains($"## {descriptor.Id}", docs);
    }

    private static IReadOnlyList<Diagnostic> Diagnose(string source) => GeneratorHarness.Run("Bad", Wrap(source)).Run.Diagnostics;

    private static string Wrap(string source)
    {
        bool assembly = source.StartsWith("[assembly", StringComparison.Ordinal);
        return "using System.Collections.Generic;\nusing Aeterna;\n" + (assembly ? source + "\nnamespace T;\n" : "namespace T;\n" + source);
    }

    /// <summary>Two keys whose FNV-1a hashes collide: a birthday search over short keys.</summary>
    private static (string, string) Collision()
    {
        var seen = new Dictionary<uint, string>();
        for (int i = 0; ; i++)
        {
            string key = "k" + i;
            uint hash = Aeterna.Generators.Parsing.MemberKeys.Hash(key);
            if (seen.TryGetValue(hash, out string? other)) return (other, key);
            seen[hash] = key;
        }
    }
}
