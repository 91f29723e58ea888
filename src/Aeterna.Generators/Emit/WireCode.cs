using System;
using Aeterna.Generators.Model;

namespace Aeterna.Generators.Emit;

/// <summary>The wire type codes; the runtime's RelayWireType holds the same table (a test checks they agree).</summary>
internal static class WireCode
{
    public const byte Nullable = 0x20;
    public const byte Array = 0x21;
    public const byte Map = 0x22;
    public const byte Object = 0x23;
    public const byte Memory = 0x24;
    public const byte MemoryPack = 0x25;

    public static byte Of(ScalarKind scalar) => scalar switch
    {
        ScalarKind.Bool => 0x01,
        ScalarKind.SByte => 0x02,
        ScalarKind.Byte => 0x03,
        ScalarKind.Int16 => 0x04,
        ScalarKind.UInt16 => 0x05,
        ScalarKind.Char => 0x06,
        ScalarKind.Int32 => 0x07,
        ScalarKind.UInt32 => 0x08,
        ScalarKind.Int64 => 0x09,
        ScalarKind.UInt64 => 0x0A,
        ScalarKind.Single => 0x0B,
        ScalarKind.Double => 0x0C,
        ScalarKind.Decimal => 0x0D,
        ScalarKind.DateTime => 0x0E,
        ScalarKind.DateTimeOffset => 0x0F,
        ScalarKind.TimeSpan => 0x10,
        ScalarKind.Guid => 0x11,
        ScalarKind.String => 0x12,
        _ => throw new ArgumentOutOfRangeException(nameof(scalar)),
    };
}
