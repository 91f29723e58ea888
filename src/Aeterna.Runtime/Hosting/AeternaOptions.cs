namespace Aeterna;

/// <summary>Settings of <c>AddAeterna()</c>. Under the supervisor most come from aeterna.yaml; these apply when the app runs standalone.</summary>
public sealed class AeternaOptions
{
    /// <summary>
    /// Declares a listener: under the supervisor the inherited socket of that name is used; standalone
    /// the app binds <paramref name="address"/> (<c>tcp://host:port</c> or <c>unix:///path</c>) itself.
    /// Same as <c>[assembly: RelayListener(name, address)]</c>.
    /// </summary>
    public AeternaOptions Listen(string name, string address)
    {
        RelayListeners.Declare(name, address);
        return this;
    }

    /// <summary>
    /// How long a lame-duck drain may take when there is no supervisor to say (under one, its
    /// drain_timeout applies). Default 5 s; a second Ctrl-C stops at once.
    /// </summary>
    public TimeSpan StandaloneDrainTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
