namespace Aeterna.Tool.Configuration;

/// <summary>
/// A type of value in aeterna.yaml: how it is read (reporting what is wrong and the fix), how a
/// value is written back (defaults in the reference and the schema), and how the reference and
/// the JSON Schema describe it.
/// </summary>
internal abstract class ValueKind(string type, string schema)
{
    /// <summary>The type as the reference names it, e.g. "duration > 0".</summary>
    public string Type => type;

    /// <summary>
    /// The JSON Schema (draft-07) of a value, as JSON text; a section appears in it as
    /// <c>{"$section": "path"}</c>, to be replaced by that section's own schema.
    /// </summary>
    public string Schema => schema;

    /// <summary>The section a value of this kind opens (itself, or each item of a list); null for plain values.</summary>
    public virtual ConfigSection? Section => null;

    /// <summary>A section: an empty value opens as an empty mapping, so that its required keys are still asked for.</summary>
    public bool IsMapping { get; init; }
}

/// <summary>A <see cref="ValueKind"/> whose values are <typeparamref name="T"/>.</summary>
internal sealed class ValueKind<T>(string type, string schema, Func<ValueAt, T> read, Func<T, string?>? show = null, ConfigSection? section = null)
    : ValueKind(type, schema)
{
    public override ConfigSection? Section => section;

    /// <summary>The value at <paramref name="at"/>; after an error (<see cref="ValueAt.Failed"/>) anything.</summary>
    public T Read(ValueAt at) => read(at);

    /// <summary>The value as YAML (e.g. "30s"); null when it is "none" (no value, an empty list).</summary>
    public string? Show(T value) => show is null ? value?.ToString() : show(value);
}
