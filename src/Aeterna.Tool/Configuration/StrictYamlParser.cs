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

    private sealed class Frame(ParsingEvent start, bool isMapping)
    {
        public ParsingEvent Start { get; } = start;
        public bool IsMapping { get; } = isMapping;
        public bool ExpectKey { get; set; } = isMapping;
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
    public (Mark At, bool InFlowCollection) LastPosition
    {
        get
        {
            foreach (var frame in _frames)
                if (frame.Start is MappingStart { Style: MappingStyle.Flow } or SequenceStart { Style: SequenceStyle.Flow })
                    return (frame.Start.Start, true);
            return (_last?.Start ?? Mark.Empty, false);
        }
    }

    public bool MoveNext()
    {
        while (true)
        {
            var e = Read();
            if (e is null)
            {
                Current = null;
                return false;
            }
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
                    if (_frames.Count >= MaxDepth)
                        throw new StopException(e.Start, $"the file nests more than {MaxDepth} levels deep here.", "Flatten it: an aeterna.yaml is at most four levels deep.");
                    Register((NodeEvent)e);
                    _frames.Push(new Frame(e, e is MappingStart));
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
            Current = e;
            return true;
        }
    }

    private ParsingEvent? Read()
    {
        if (!inner.MoveNext()) return null;
        _last = inner.Current;
        return _last;
    }

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
            if (e is MappingStart or SequenceStart)
            {
                // Same limit as for kept nodes: YamlDotNet's scanner slows down badly on deep nesting.
                if (_frames.Count + ++depth > MaxDepth)
                    throw new StopException(e.Start, $"the file nests more than {MaxDepth} levels deep here.", "Flatten it: an aeterna.yaml is at most four levels deep.");
            }
            else if (e is MappingEnd or SequenceEnd) depth--;
        }
    }
}
