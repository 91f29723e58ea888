using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Aeterna.Tool.Configuration;

/// <summary>
/// Sits between YamlDotNet's parser and its representation model so that the model only ever
/// sees what the loader can map, and every problem found on the way is reported with its place:
/// <list type="bullet">
/// <item>a duplicate key is reported and dropped with its value (YamlStream would throw at the
/// first one, placed at the end of the mapping, and lose every other error in the file);</item>
/// <item>a key that is not a scalar (a list, a mapping, an alias) is reported and dropped;</item>
/// <item>an alias to an undefined anchor, or nesting deeper than <see cref="MaxDepth"/> (the model
/// is built recursively), stops the parse with a located <see cref="StopException"/>.</item>
/// </list>
/// </summary>
internal sealed class StrictYamlParser(IParser inner, Action<Mark, string, string> report) : IParser
{
    /// <summary>Far deeper than any config; low enough that building the model can't overflow the stack.</summary>
    public const int MaxDepth = 64;

    /// <summary>An open mapping or list; in a mapping, whether a key comes next, and the keys so far.</summary>
    private sealed class Frame(ParsingEvent start)
    {
        public ParsingEvent Start => start;
        public bool IsMapping => start is MappingStart;
        public bool ExpectKey { get; set; } = start is MappingStart;
        public Dictionary<string, Mark> Keys { get; } = new(StringComparer.Ordinal);
    }

    /// <summary>A problem that ends the parse (like a syntax error), with its place and fix.</summary>
    public sealed class StopException(Mark at, string problem, string fix) : Exception(problem)
    {
        public Mark At { get; } = at;
        public string Fix { get; } = fix;
    }

    private readonly Stack<Frame> _frames = new();
    private readonly HashSet<string> _anchors = new(StringComparer.Ordinal);
    private ParsingEvent? _last;

    public ParsingEvent? Current { get; private set; }

    /// <summary>
    /// Best place to blame when the inner parser fails without a position (it sometimes throws
    /// InvalidOperationException): an unclosed flow collection if one is open, else the last event.
    /// </summary>
    public (Mark At, bool InFlowCollection) LastPosition =>
        _frames.FirstOrDefault(f => f.Start is MappingStart { Style: MappingStyle.Flow } or SequenceStart { Style: SequenceStyle.Flow }) is { } open
            ? (open.Start.Start, true) : (_last?.Start ?? Mark.Empty, false);

    public bool MoveNext()
    {
        while (true)
        {
            if ((Current = Read()) is not { } e) return false;
            if (e is DocumentStart) _anchors.Clear();

            if (e is (Scalar or MappingStart or SequenceStart or AnchorAlias) && _frames.TryPeek(out var top) && top.IsMapping && top.ExpectKey)
            {
                if (e is not Scalar key)
                {
                    report(e.Start, $"this key is {(e is AnchorAlias ? "an alias" : e is MappingStart ? "a mapping" : "a list")}; keys must be plain names.",
                        "Write the key as a plain word followed by ':', e.g. 'name: value'.");
                    SkipRestOfNode(e);
                    SkipNode();
                    continue;
                }
                if (top.Keys.TryGetValue(key.Value, out Mark first))
                {
                    report(key.Start, $"duplicate key '{ConfigText.Show(key.Value)}' (it is already set on line {first.Line}).",
                        "Remove one of the two; if both were meant, one of them is misspelled or belongs in another section.");
                    SkipNode(); // its value
                    continue;
                }
                top.Keys[key.Value] = key.Start;
            }

            switch (e)
            {
                case MappingStart or SequenceStart:
                    CheckDepth(e, _frames.Count + 1);
                    Register((NodeEvent)e);
                    _frames.Push(new Frame(e));
                    break;
                case MappingEnd or SequenceEnd:
                    _frames.Pop();
                    Completed();
                    break;
                case Scalar scalar:
                    Register(scalar);
                    Completed();
                    break;
                case AnchorAlias alias:
                    if (!_anchors.Contains(alias.Value.Value))
                        throw new StopException(alias.Start, $"the alias '*{ConfigText.Show(alias.Value.Value)}' refers to no anchor defined before it.",
                            $"Define '&{ConfigText.Show(alias.Value.Value)}' on a value above this line, or write the value out here.");
                    Completed();
                    break;
            }
            return true;
        }
    }

    private ParsingEvent? Read() => inner.MoveNext() ? _last = inner.Current : null;

    /// <summary>A node has ended: in a mapping, a finished key means a value is next and vice versa.</summary>
    private void Completed()
    {
        if (_frames.TryPeek(out var top) && top.IsMapping) top.ExpectKey = !top.ExpectKey;
    }

    private void Register(NodeEvent node)
    {
        if (!node.Anchor.IsEmpty) _anchors.Add(node.Anchor.Value);
    }

    /// <summary>Reads and drops the next whole node.</summary>
    private void SkipNode()
    {
        var e = Read();
        if (e is not null) SkipRestOfNode(e);
    }

    /// <summary>Drops the rest of the node <paramref name="start"/> begins (iteratively: no depth limit needed).</summary>
    private void SkipRestOfNode(ParsingEvent start)
    {
        int depth = start is MappingStart or SequenceStart ? 1 : 0;
        while (depth > 0 && Read() is { } e)
        {
            // Same limit as for kept nodes: YamlDotNet's scanner slows down badly on deep nesting.
            if (e is MappingStart or SequenceStart) CheckDepth(e, _frames.Count + ++depth);
            else if (e is MappingEnd or SequenceEnd) depth--;
        }
    }

    private static void CheckDepth(ParsingEvent e, int depth)
    {
        if (depth > MaxDepth)
            throw new StopException(e.Start, $"the file nests more than {MaxDepth} levels deep here.", "Flatten it: an aeterna.yaml is at most four levels deep.");
    }
}
