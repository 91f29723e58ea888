using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Aeterna.Tool.Configuration;

/// <summary>One value of the file being read, and where its problems go.</summary>
/// <param name="Map">The file being read: its errors, its directory.</param>
/// <param name="Path">Dotted path for messages: "readiness.timeout", "listeners[0]".</param>
/// <param name="Name">The key the value belongs to ("timeout"; a list item has its list's key).</param>
/// <param name="Node">The value.</param>
/// <param name="Location">Where the key is (a list item: where it starts), for "has no …" errors about what it holds.</param>
/// <param name="Example">A line that writes it right, for fixes: "timeout: 30s", "- [\"./check.sh\"]".</param>
internal sealed record ValueAt(ConfigMapper Map, string Path, string Name, YamlNode Node, Mark Location, string Example)
{
    /// <summary>Whether reading it reported an error.</summary>
    public bool Failed { get; private set; }

    public bool IsNull => ConfigMapper.IsNull(Node);

    /// <summary>Where to point at the value; an empty value has no place of its own, so its key.</summary>
    public Mark Place => IsNull ? Location : Node.Start;

    /// <summary>Reports a problem with the value, which then fails; returns a value the caller discards.</summary>
    public T Fail<T>(string message, string fix)
    {
        Report(Node.Start, message, fix);
        return default!;
    }

    /// <summary>Reports a problem a parser found in the value's text.</summary>
    public T Fail<T>(Problem problem) => Fail<T>($"{Path}: {problem.Message}", problem.Fix);

    /// <summary>Reports a problem at <paramref name="at"/> inside the value (a word, an item); the rest can still be read.</summary>
    public void Report(Mark at, string message, string fix)
    {
        Failed = true;
        Map.Error(at, message, fix);
    }

    /// <summary>Reports that the node is the wrong kind of node.</summary>
    public T WrongKind<T>(string expected) =>
        Fail<T>($"{Path} must be {expected}, but it is {ConfigMapper.KindOf(Node)}.", $"Write it like this: {Example}");

    /// <summary>Reports that <paramref name="part"/> of the value (a word, an item) is the wrong kind of node.</summary>
    public void WrongKindAt(YamlNode part, string expected, string what) =>
        Report(part.Start, $"{what} must be {expected}, but it is {ConfigMapper.KindOf(part)}.", $"Write it like this: {Example}");

    /// <summary>The example's value, without its key.</summary>
    public string ExampleValue => Example[(Example.IndexOf(": ", StringComparison.Ordinal) + 2)..];

    /// <summary>Item <paramref name="index"/> of a list, its example the list's first item.</summary>
    public ValueAt Item(YamlNode item, int index) => new(Map, $"{Path}[{index}]", Name, item, item.Start,
        $"- {(ExampleValue.StartsWith('[') && ExampleValue.EndsWith(']') ? ExampleValue[1..^1] : ExampleValue)}");
}

/// <summary>A mapping of the file opened as a <see cref="ConfigSection"/>: the value it is, and its known keys' values.</summary>
internal sealed record YamlSection(ValueAt At, IReadOnlyDictionary<string, ValueAt> Entries)
{
    public string Path => At.Path;

    public ValueAt? this[string key] => Entries.GetValueOrDefault(key);
}
