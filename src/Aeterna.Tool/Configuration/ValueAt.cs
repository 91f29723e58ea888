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

    /// <summary>Reports a problem with the value, which then fails; returns a value the caller discards.</summary>
    public T Fail<T>(string message, string fix)
    {
        Report(Node.Start, message, fix);
        return default!;
    }

    /// <summary>Reports a problem at <paramref name="at"/> inside the value (a word, an item); the rest can still be read.</summary>
    public void Report(Mark at, string message, string fix)
    {
        Failed = true;
        Map.Error(at, message, fix);
    }

    /// <summary>Reports that the node is the wrong kind of node (<paramref name="what"/> defaults to the path).</summary>
    public T WrongKind<T>(string expected, string? what = null) =>
        Fail<T>($"{what ?? Path} must be {expected}, but it is {ConfigMapper.KindOf(Node)}.", $"Write it like this: {Example}");

    /// <summary>Reports that <paramref name="part"/> of the value (a word, an item) is the wrong kind of node.</summary>
    public void WrongKindAt(YamlNode part, string expected, string what) =>
        Report(part.Start, $"{what} must be {expected}, but it is {ConfigMapper.KindOf(part)}.", $"Write it like this: {Example}");

    /// <summary>Item <paramref name="index"/> of a list, its example the list's first item.</summary>
    public ValueAt Item(int index, YamlNode item)
    {
        string value = Example[(Example.IndexOf(": ", StringComparison.Ordinal) + 2)..];
        return new ValueAt(Map, $"{Path}[{index}]", Name, item, item.Start, $"- {(value.StartsWith('[') && value.EndsWith(']') ? value[1..^1] : value)}");
    }
}
