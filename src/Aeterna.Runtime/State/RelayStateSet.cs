namespace Aeterna.State;

/// <summary>
/// The app's registered state objects (<c>AddRelayState&lt;T&gt;()</c>), each exported as one
/// section named after its type. Sections are matched by name at import, so a type added in the
/// new version starts as constructed and a section the new version no longer has is skipped.
/// </summary>
internal sealed class RelayStateSet
{
    private readonly List<Entry> _entries = [];

    /// <summary>One state object, and how to make a scratch instance of its type (to validate state before applying it).</summary>
    public sealed record Entry(string Name, IRelayState Instance, Func<IRelayState> CreateScratch);

    public IReadOnlyList<Entry> Entries => _entries;

    public bool IsEmpty => _entries.Count == 0;

    public void Add(string name, IRelayState instance, Func<IRelayState> createScratch)
    {
        if (_entries.Any(e => e.Name == name))
            throw new InvalidOperationException($"relay state '{name}' is registered twice; register each state type once");
        _entries.Add(new Entry(name, instance, createScratch));
    }

    public Entry? Find(string name) => _entries.FirstOrDefault(e => e.Name == name);
}
