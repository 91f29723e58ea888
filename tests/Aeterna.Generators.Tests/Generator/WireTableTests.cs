// Formatters are composed the way generated code does it: outside a nullable context (their reference types are nullable by design).
#nullable disable
using Aeterna.Generators.Emit;
using Aeterna.Generators.Model;
using Aeterna.Serialization;

namespace Aeterna.Generators.Tests.Generator;

/// <summary>The generator's copy of the wire type table (it cannot reference the runtime) agrees with the runtime's.</summary>
public class WireTableTests
{
    [Fact]
    public void Every_scalar_code_and_name_agrees_with_the_runtime()
    {
        var backend = new BinaryBackend();
        foreach (var scalar in Enum.GetValues<ScalarKind>().Where(s => s != ScalarKind.None))
        {
            var shape = new TypeShape(ShapeKind.Scalar, "", "", scalar);
            Assert.Equal(backend.WireText(shape), RelayWireType.ToText([WireCode.Of(scalar)]));
        }
    }

    [Fact]
    public void Composite_descriptors_agree_with_the_runtime_formatters()
    {
        var map = new TypeShape(ShapeKind.Map, "", "", Element: new TypeShape(ShapeKind.Scalar, "", "", ScalarKind.String),
            Value: new TypeShape(ShapeKind.Sequence, "", "", Sequence: SequenceKind.List, Element: new TypeShape(ShapeKind.Nullable, "", "", Element: new TypeShape(ShapeKind.Scalar, "", "", ScalarKind.Int32))));
        var runtime = Aeterna.Serialization.Formatters.DictionaryFormatter<string, List<int?>, Aeterna.Serialization.Formatters.StringFormatter,
            Aeterna.Serialization.Formatters.ListFormatter<int?, Aeterna.Serialization.Formatters.NullableFormatter<int, Aeterna.Serialization.Formatters.Int32Formatter>>>.WireType;
        Assert.Equal(BinaryBackend.WireBytes(map).ToArray(), runtime.ToArray());
        Assert.Equal(new BinaryBackend().WireText(map), RelayWireType.ToText(runtime));
    }
}
