using System;
using System.Text;

namespace Aeterna.Generators.Emit;

/// <summary>Indented C# text.</summary>
internal sealed class CodeWriter
{
    private readonly StringBuilder _text = new();
    private int _indent;

    public CodeWriter Line(string line = "")
    {
        if (line.Length > 0) _text.Append(' ', _indent * 4).Append(line);
        _text.Append('\n');
        return this;
    }

    /// <summary>Writes <paramref name="line"/> and "{", and indents until the returned scope is disposed (which writes "}").</summary>
    public IDisposable Block(string line, string close = "}")
    {
        Line(line);
        Line("{");
        _indent++;
        return new Scope(this, close);
    }

    public override string ToString() => _text.ToString();

    private sealed class Scope(CodeWriter writer, string close) : IDisposable
    {
        public void Dispose()
        {
            writer._indent--;
            writer.Line(close);
        }
    }
}
