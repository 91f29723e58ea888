namespace Aeterna;

/// <summary>
/// Declares a listener the app serves on: under the supervisor it is the inherited socket of that
/// name (<c>LISTEN_FDNAMES</c>); standalone the app binds <see cref="Address"/> itself. The
/// generator turns each into a typed accessor and registers it at start-up (no reflection).
/// </summary>
/// <example><c>[assembly: RelayListener("http", "tcp://0.0.0.0:8080")]</c></example>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
public sealed class RelayListenerAttribute(string name, string address) : Attribute
{
    /// <summary>The listener's name, as in <c>listeners[].name</c> of aeterna.yaml.</summary>
    public string Name { get; } = name;

    /// <summary>Where to listen without a supervisor: <c>tcp://host:port</c>, <c>udp://host:port</c> or <c>unix:///path</c>.</summary>
    public string Address { get; } = address;
}
