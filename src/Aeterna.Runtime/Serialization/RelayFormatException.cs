namespace Aeterna;

/// <summary>
/// Relay state that cannot be read: truncated or corrupt data, or a change between versions that
/// cannot be bridged. The message names what was being read and why it failed.
/// </summary>
public sealed class RelayFormatException : Exception
{
    /// <summary>Creates the exception with a message that names the member and the problem.</summary>
    public RelayFormatException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    public RelayFormatException(string message, Exception inner) : base(message, inner) { }
}
