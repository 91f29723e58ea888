namespace Aeterna;

/// <summary>How <see cref="RelaySerializer"/> writes strings (docs/wire-format.md, "Values"). Every reader of this format version reads both.</summary>
public enum RelayStringEncoding
{
    /// <summary>UTF-8: the smallest, and what every build of the format reads. The default.</summary>
    Utf8,

    /// <summary>
    /// UTF-16, the chars as they are in memory: reading is a copy instead of a decode (faster for
    /// text-heavy state), at up to twice the size for ASCII text. A reader that does not know it (an
    /// older build of the runtime) refuses it with a <see cref="RelayFormatException"/>, so relays
    /// write UTF-8 until the two generations can agree on it (docs/wire-format.md).
    /// </summary>
    Utf16,
}
