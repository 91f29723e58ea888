namespace Aeterna.Generators.Model;

/// <summary>What a member's type is, as far as relaying it goes.</summary>
internal enum ShapeKind
{
    /// <summary>A number, bool, char, string, decimal, DateTime, DateTimeOffset, TimeSpan or Guid.</summary>
    Scalar,
    /// <summary>An enum: relayed as its underlying integer.</summary>
    Enum,
    /// <summary><c>Nullable&lt;T&gt;</c>.</summary>
    Nullable,
    /// <summary>Arrays, lists, sets, queues, immutable arrays, <c>ReadOnlyMemory&lt;byte&gt;</c>.</summary>
    Sequence,
    /// <summary><c>Dictionary&lt;K, V&gt;</c>.</summary>
    Map,
    /// <summary>A type with [RelayState] members (this compilation's or another assembly's).</summary>
    State,
    /// <summary><c>RelayMemory&lt;T&gt;</c>: handed over by file descriptor.</summary>
    Memory,
    /// <summary>A MemoryPack type (<c>[MemoryPackable]</c>): its MemoryPack bytes, length first.</summary>
    MemoryPack,
}

internal enum ScalarKind
{
    None,
    Bool,
    SByte,
    Byte,
    Int16,
    UInt16,
    Char,
    Int32,
    UInt32,
    Int64,
    UInt64,
    Single,
    Double,
    Decimal,
    DateTime,
    DateTimeOffset,
    TimeSpan,
    Guid,
    String,
}

internal enum SequenceKind
{
    None,
    Array,
    List,
    HashSet,
    Queue,
    ImmutableArray,
    ReadOnlyMemory,
}

/// <summary>
/// A member type resolved into the parts the emitter needs: plain strings and nested shapes, no
/// symbols, so it compares by value and caches across compilations.
/// </summary>
/// <param name="Kind">What it is.</param>
/// <param name="TypeName">The fully qualified C# type (<c>global::System.Collections.Generic.List&lt;global::A.B&gt;</c>).</param>
/// <param name="DisplayName">The type as people write it, for messages and the manifest.</param>
/// <param name="Scalar">For scalars, and the underlying type of enums.</param>
/// <param name="Sequence">For sequences: which collection.</param>
/// <param name="Element">Element (sequences, nullable, memory), or the key of a map.</param>
/// <param name="Value">The value of a map.</param>
/// <param name="MemoryPackTypes">For MemoryPack types: its layout and those of the MemoryPack types it holds, itself first.</param>
internal sealed record TypeShape(
    ShapeKind Kind,
    string TypeName,
    string DisplayName,
    ScalarKind Scalar = ScalarKind.None,
    SequenceKind Sequence = SequenceKind.None,
    TypeShape? Element = null,
    TypeShape? Value = null,
    EquatableArray<MemoryPackLayout> MemoryPackTypes = default)
{
    /// <summary>The MemoryPack types anywhere in this shape (a list of them, a map to them, …), each once.</summary>
    public System.Collections.Generic.IEnumerable<MemoryPackLayout> AllMemoryPackTypes()
    {
        var seen = new System.Collections.Generic.HashSet<string>();
        var pending = new System.Collections.Generic.Stack<TypeShape>();
        pending.Push(this);
        while (pending.Count > 0)
        {
            var shape = pending.Pop();
            foreach (var layout in shape.MemoryPackTypes)
                if (seen.Add(layout.DisplayName)) yield return layout;
            if (shape.Value is not null) pending.Push(shape.Value);
            if (shape.Element is not null) pending.Push(shape.Element);
        }
    }

    /// <summary>
    /// Fixed-size values whose wire bytes are their in-memory bytes (on little-endian machines), so
    /// arrays of them are copied as one block.
    /// </summary>
    public bool IsBlittable => Kind is ShapeKind.Scalar or ShapeKind.Enum && Scalar is
        ScalarKind.SByte or ScalarKind.Byte or ScalarKind.Int16 or ScalarKind.UInt16 or ScalarKind.Char or
        ScalarKind.Int32 or ScalarKind.UInt32 or ScalarKind.Int64 or ScalarKind.UInt64 or
        ScalarKind.Single or ScalarKind.Double or ScalarKind.TimeSpan or ScalarKind.Guid;
}
