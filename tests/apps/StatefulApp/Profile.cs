using Aeterna;

namespace StatefulApp;

/// <summary>
/// A second piece of state, made by the [RelayState] generator (Store is written by hand, to inject
/// faults): it puts a real schema in the build's StatefulApp.relay.json and in the session's HELLO.
/// </summary>
public sealed partial class Profile
{
    [RelayState] public string Name { get; set; } = "default";

    [RelayState] public int Revision { get; set; }
}
