using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Aeterna.Tool.Control;

/// <summary>
/// How the supervisor's enums (relay phases and outcomes, generation states) are written wherever
/// they leave it: the control protocol and the relay history, metric labels, the log, the CLI.
/// One rule for all of them: the member's name in snake_case (NotReady → not_ready).
/// </summary>
internal static class WireName
{
    private static readonly JsonNamingPolicy Policy = JsonNamingPolicy.SnakeCaseLower;

    public static string Of<T>(T value) where T : struct, Enum => Names<T>.ByValue[value];

    /// <summary>Every value of <typeparamref name="T"/>, in declaration order.</summary>
    public static IReadOnlyList<T> All<T>() where T : struct, Enum => Names<T>.Values;

    private static class Names<T> where T : struct, Enum
    {
        public static readonly T[] Values = Enum.GetValues<T>();

        public static readonly FrozenDictionary<T, string> ByValue = Values.ToFrozenDictionary(v => v, v => Policy.ConvertName(v.ToString()));
    }

    /// <summary>The JSON converter that writes and reads <typeparamref name="T"/> by <see cref="Of{T}"/>.</summary>
    public sealed class Converter<T>() : JsonStringEnumConverter<T>(Policy, allowIntegerValues: false) where T : struct, Enum;
}
