using Aeterna.Generators.Model;

namespace Aeterna.Generators.Emit;

/// <summary>
/// The seam between what is relayed (the model, the partial type, registration) and how it is
/// encoded. <see cref="BinaryBackend"/> is the Aeterna wire format (members of MemoryPack types
/// included: MemoryPack writes their values inside it); another encoding of whole types would
/// implement this and nothing else would change.
/// </summary>
internal interface IRelayBackend
{
    /// <summary>The wire type of <paramref name="shape"/> as the manifest writes it (<c>array&lt;int32&gt;</c>).</summary>
    string WireText(TypeShape shape);

    /// <summary>
    /// Emits, inside the partial type, the bodies behind <c>IRelayState</c>: a
    /// <c>__RelayWrite(ref RelayWriter)</c> method, a <c>__RelayReadMembers(ref RelayReader, int)</c>
    /// method, and the nested <c>RelayStateFormatter</c> other types use to relay this one.
    /// </summary>
    void EmitMembers(CodeWriter code, StateTypeModel model, MemberAssignments assignments);
}
