using Aeterna.Serialization;

namespace Aeterna;

/// <summary>
/// State that crosses a relay: the old generation writes it, the new one reads it. The
/// <c>[RelayState]</c> source generator implements this for a <c>partial</c> type from its
/// annotated members; a type may also implement it by hand.
/// </summary>
/// <remarks>
/// Register an instance with <c>services.AddRelayState&lt;T&gt;()</c>. The runtime calls
/// <see cref="WriteState"/> once the app is frozen (no request in flight, none accepted) and
/// <see cref="ReadState"/> before the new generation accepts its first connection.
/// </remarks>
public interface IRelayState
{
    /// <summary>Writes the state. Called while nothing else touches it.</summary>
    void WriteState(ref RelayWriter writer);

    /// <summary>
    /// Reads state written by <see cref="WriteState"/> of this or another version of the type into
    /// this instance. Throws <see cref="RelayFormatException"/> when the data cannot be read.
    /// </summary>
    void ReadState(ref RelayReader reader);
}
