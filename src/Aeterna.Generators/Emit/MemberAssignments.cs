using Aeterna.Generators.Model;
using Microsoft.CodeAnalysis.CSharp;

namespace Aeterna.Generators.Emit;

/// <summary>
/// How generated code reads and assigns a member: directly, or through an UnsafeAccessor for
/// init-only properties (positional records), which ordinary code may not set after construction.
/// </summary>
internal sealed class MemberAssignments(StateTypeModel model)
{
    public static string Identifier(string name) =>
        SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None || SyntaxFacts.GetContextualKeywordKind(name) != SyntaxKind.None ? "@" + name : name;

    /// <summary>The member's value: <c>this.X</c>.</summary>
    public string Get(MemberModel member) => "this." + Identifier(member.Name);

    /// <summary>A statement assigning <paramref name="value"/> to the member.</summary>
    public string Set(MemberModel member, string value) => member.Access == MemberAccess.InitOnly
        ? $"{SetterName(member)}({(model.IsValueType ? "ref this" : "this")}, {value});"
        : $"this.{Identifier(member.Name)} = {value};";

    /// <summary>Declares the UnsafeAccessor methods for init-only members.</summary>
    public void EmitAccessors(CodeWriter code)
    {
        foreach (var member in model.Members)
        {
            if (member.Access != MemberAccess.InitOnly) continue;
            code.Line($"[global::System.Runtime.CompilerServices.UnsafeAccessor(global::System.Runtime.CompilerServices.UnsafeAccessorKind.Method, Name = \"set_{member.Name}\")]");
            code.Line($"private static extern void {SetterName(member)}({(model.IsValueType ? "ref " : "")}{model.FullyQualifiedName} target, {member.Type.TypeName} value);");
            code.Line();
        }
    }

    private static string SetterName(MemberModel member) => "__RelaySet_" + member.Name;
}
