using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Aeterna.Generators.Diagnostics;
using Aeterna.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Aeterna.Generators.Parsing;

/// <summary>
/// Reads a type with [RelayState] members into a <see cref="StateTypeModel"/>: the members that can
/// be relayed, and a diagnostic for each problem. The only place that looks at symbols.
/// </summary>
internal static class StateTypeParser
{
    public static StateTypeModel Parse(INamedTypeSymbol type, Compilation compilation, CancellationToken cancel)
    {
        var resolver = new TypeShapeResolver(compilation);
        var diagnostics = new List<DiagnosticInfo>();
        string display = type.ToDisplayString(TypeShapeResolver.DisplayFormat);
        var typeLocation = type.Locations.FirstOrDefault();
        var stateMembers = type.GetMembers().Where(m => m is IFieldSymbol or IPropertySymbol && resolver.HasRelayStateAttribute(m)).ToList();

        bool canGenerate = CheckContainer(type, display, stateMembers.FirstOrDefault(), resolver, diagnostics);
        var members = ParseMembers(type, display, stateMembers, resolver, diagnostics, cancel);
        string? create = CreateExpression(type, display, typeLocation, diagnostics);

        var containing = new List<ContainingType>();
        for (var outer = type.ContainingType; outer is not null; outer = outer.ContainingType)
            containing.Insert(0, new ContainingType(Keyword(outer), outer.Name));

        return new StateTypeModel(
            Namespace: type.ContainingNamespace.IsGlobalNamespace ? "" : type.ContainingNamespace.ToDisplayString(),
            ContainingTypes: containing.ToEquatableArray(),
            Keyword: Keyword(type),
            Name: type.Name,
            FullyQualifiedName: type.ToDisplayString(TypeShapeResolver.CodeFormat),
            DisplayName: display,
            IsValueType: type.IsValueType,
            IsRegistrable: IsVisibleInAssembly(type),
            CreateExpression: create,
            CanGenerate: canGenerate,
            Members: members.ToEquatableArray(),
            Diagnostics: diagnostics.ToEquatableArray());
    }

    /// <summary>Checks the type itself can get generated members; false when no source can be emitted for it.</summary>
    private static bool CheckContainer(INamedTypeSymbol type, string display, ISymbol? firstMember, TypeShapeResolver resolver, List<DiagnosticInfo> diagnostics)
    {
        var location = type.Locations.FirstOrDefault();
        for (var t = type; t is not null; t = t.ContainingType)
        {
            if (!IsPartial(t))
            {
                diagnostics.Add(DiagnosticInfo.Create(RelayDiagnostics.TypeNotPartial, t.Locations.FirstOrDefault(),
                    display, firstMember?.Name ?? "?", t.ToDisplayString(TypeShapeResolver.DisplayFormat)));
                return false;
            }
        }
        string? problem = null, fix = null;
        if (type.IsGenericType || type.ContainingType is { IsGenericType: true })
            (problem, fix) = ("generic types are not supported", "relay a non-generic type (a closed class can derive from nothing generic and hold the data)");
        else if (type.IsRefLikeType)
            (problem, fix) = ("it is a ref struct", "use a class or a plain struct");
        else if (type.TypeKind == TypeKind.Struct && type.IsReadOnly)
            (problem, fix) = ("it is a readonly struct, so nothing can be read into it", "remove 'readonly' from the struct");
        else if (type.IsStatic)
            (problem, fix) = ("it is static", "make it an instance type registered with AddRelayState");
        else if (type.TypeKind == TypeKind.Interface)
            (problem, fix) = ("it is an interface", "put the state in a class, struct or record");
        if (problem is not null)
        {
            diagnostics.Add(DiagnosticInfo.Create(RelayDiagnostics.UnsupportedContainer, location, display, problem, fix!));
            return false;
        }
        if (type.BaseType is { } baseType && resolver.IsStateType(baseType))
        {
            diagnostics.Add(DiagnosticInfo.Create(RelayDiagnostics.InheritedState, location, display, baseType.ToDisplayString(TypeShapeResolver.DisplayFormat)));
            return false;
        }
        return true;
    }

    private static List<MemberModel> ParseMembers(INamedTypeSymbol type, string display, List<ISymbol> stateMembers, TypeShapeResolver resolver,
        List<DiagnosticInfo> diagnostics, CancellationToken cancel)
    {
        var removed = RemovedKeys(type);
        var members = new List<MemberModel>();
        var byKey = new Dictionary<string, MemberModel>();
        var byId = new Dictionary<uint, MemberModel>();
        foreach (var symbol in stateMembers)
        {
            cancel.ThrowIfCancellationRequested();
            var location = symbol.Locations.FirstOrDefault();
            string name = display + "." + symbol.Name;
            if (!TryAccess(symbol, name, location, diagnostics, out var access, out var memberType)) continue;

            var attribute = symbol.GetAttributes().First(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, resolver.RelayStateAttribute));
            string? explicitKey = ExplicitKey(attribute);
            if (explicitKey is not null && explicitKey.Trim().Length == 0)
            {
                diagnostics.Add(DiagnosticInfo.Create(RelayDiagnostics.InvalidKey, location, name));
                continue;
            }
            string key = explicitKey ?? MemberKeys.Derive(symbol.Name);

            var shape = resolver.Resolve(memberType, out var unsupported);
            if (shape is null && unsupported!.Descriptor is { } descriptor)
            {
                diagnostics.Add(DiagnosticInfo.Create(descriptor, location, name, memberType.ToDisplayString(TypeShapeResolver.DisplayFormat), unsupported.Reason, unsupported.Fix));
                continue;
            }
            if (shape is null)
            {
                string reason = unsupported!.Part == memberType.ToDisplayString(TypeShapeResolver.DisplayFormat)
                    ? unsupported.Reason
                    : $"its part '{unsupported.Part}' cannot be relayed ({unsupported.Reason})";
                diagnostics.Add(DiagnosticInfo.Create(RelayDiagnostics.UnsupportedType, location, name,
                    memberType.ToDisplayString(TypeShapeResolver.DisplayFormat), reason, unsupported.Fix));
                continue;
            }

            if (removed.Contains(key))
            {
                diagnostics.Add(DiagnosticInfo.Create(RelayDiagnostics.RemovedKeyReused, location, name, key, display));
                continue;
            }
            if (byKey.TryGetValue(key, out var sameKey))
            {
                diagnostics.Add(DiagnosticInfo.Create(RelayDiagnostics.DuplicateKey, location, display + "." + sameKey.Name, name, display, key));
                continue;
            }
            var member = new MemberModel(symbol.Name, key, MemberKeys.Hash(key), access, shape);
            if (byId.TryGetValue(member.Id, out var sameId))
            {
                diagnostics.Add(DiagnosticInfo.Create(RelayDiagnostics.KeyHashCollision, location, sameId.Key, sameId.Name, key, symbol.Name, display, member.Id.ToString("x8")));
                continue;
            }
            byKey.Add(key, member);
            byId.Add(member.Id, member);
            members.Add(member);
        }
        return members;
    }

    /// <summary>Whether generated code can assign the member, and how; reports why not.</summary>
    private static bool TryAccess(ISymbol symbol, string name, Location? location, List<DiagnosticInfo> diagnostics, out MemberAccess access, out ITypeSymbol type)
    {
        access = MemberAccess.Assign;
        type = null!;
        if (symbol.IsStatic)
        {
            diagnostics.Add(DiagnosticInfo.Create(RelayDiagnostics.StaticMember, location, name));
            return false;
        }
        switch (symbol)
        {
            case IFieldSymbol field:
                type = field.Type;
                if (field.IsReadOnly)
                {
                    diagnostics.Add(DiagnosticInfo.Create(RelayDiagnostics.ReadonlyField, location, name));
                    return false;
                }
                if (field.RefKind != RefKind.None)
                {
                    diagnostics.Add(DiagnosticInfo.Create(RelayDiagnostics.UnsupportedMember, location, name, "a ref field", "relay the value it refers to from its owner"));
                    return false;
                }
                return true;
            case IPropertySymbol property:
                type = property.Type;
                if (property.IsIndexer)
                {
                    diagnostics.Add(DiagnosticInfo.Create(RelayDiagnostics.UnsupportedMember, location, name, "an indexer", "mark the collection behind the indexer instead"));
                    return false;
                }
                if (property.ReturnsByRef || property.ReturnsByRefReadonly)
                {
                    diagnostics.Add(DiagnosticInfo.Create(RelayDiagnostics.UnsupportedMember, location, name, "a ref-returning property", "mark the field it returns instead"));
                    return false;
                }
                if (property.ExplicitInterfaceImplementations.Length > 0)
                {
                    diagnostics.Add(DiagnosticInfo.Create(RelayDiagnostics.UnsupportedMember, location, name, "an explicit interface implementation", "mark the field behind it instead"));
                    return false;
                }
                if (property.SetMethod is null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(RelayDiagnostics.PropertyWithoutSetter, location, name));
                    return false;
                }
                access = property.SetMethod.IsInitOnly ? MemberAccess.InitOnly : MemberAccess.Assign;
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// How a reader creates an instance: a parameterless constructor (any accessibility: the
    /// generated code lives inside the type), or a primary constructor given default values (its
    /// members are then read in place); null, with a diagnostic, when there is neither.
    /// </summary>
    private static string? CreateExpression(INamedTypeSymbol type, string display, Location? location, List<DiagnosticInfo> diagnostics)
    {
        string name = type.ToDisplayString(TypeShapeResolver.CodeFormat);
        if (type.IsValueType) return $"new {name}()";
        if (type.IsAbstract)
        {
            diagnostics.Add(DiagnosticInfo.Create(RelayDiagnostics.NoConstructor, location, display, "it is abstract", "make it concrete; relay the concrete type"));
            return null;
        }
        var constructors = type.InstanceConstructors.Where(c => !c.IsImplicitlyDeclared || c.Parameters.Length == 0).ToList();
        if (constructors.Any(c => c.Parameters.Length == 0)) return $"new {name}()";
        var primary = type.InstanceConstructors.FirstOrDefault(c =>
            c.DeclaringSyntaxReferences.Any(r => r.GetSyntax() is TypeDeclarationSyntax) && c.Parameters.All(p => p.RefKind == RefKind.None));
        if (primary is not null)
            return $"new {name}({string.Join(", ", primary.Parameters.Select(p => $"default({p.Type.ToDisplayString(TypeShapeResolver.CodeFormat)})"))})";
        diagnostics.Add(DiagnosticInfo.Create(RelayDiagnostics.NoConstructor, location, display, "it has no parameterless constructor",
            "add a parameterless constructor (it may be private)"));
        return null;
    }

    private static string? ExplicitKey(AttributeData attribute)
    {
        foreach (var named in attribute.NamedArguments)
            if (named.Key == "Key") return named.Value.Value as string;
        if (attribute.ConstructorArguments.Length == 1) return attribute.ConstructorArguments[0].Value as string;
        return null;
    }

    private static HashSet<string> RemovedKeys(INamedTypeSymbol type)
    {
        var keys = new HashSet<string>();
        foreach (var attribute in type.GetAttributes())
        {
            if (attribute.AttributeClass?.ToDisplayString() != "Aeterna.RelayRemovedKeysAttribute") continue;
            foreach (var argument in attribute.ConstructorArguments)
            {
                if (argument.Kind == TypedConstantKind.Array)
                    foreach (var value in argument.Values) { if (value.Value is string key) keys.Add(key); }
                else if (argument.Value is string key)
                    keys.Add(key);
            }
        }
        return keys;
    }

    private static bool IsPartial(INamedTypeSymbol type) =>
        type.DeclaringSyntaxReferences.Length > 0 && type.DeclaringSyntaxReferences.All(r =>
            r.GetSyntax() is TypeDeclarationSyntax declaration && declaration.Modifiers.Any(SyntaxKind.PartialKeyword));

    private static string Keyword(INamedTypeSymbol type) => type switch
    {
        { IsRecord: true, IsValueType: true } => "record struct",
        { IsRecord: true } => "record",
        { TypeKind: TypeKind.Struct } => "struct",
        { TypeKind: TypeKind.Interface } => "interface",
        _ => "class",
    };

    /// <summary>Whether code at the top level of the assembly can name the type (so the module initializer can register it).</summary>
    private static bool IsVisibleInAssembly(INamedTypeSymbol type)
    {
        for (var t = type; t is not null; t = t.ContainingType)
            if (t.DeclaredAccessibility is not (Accessibility.Public or Accessibility.Internal or Accessibility.ProtectedOrInternal)) return false;
        return true;
    }
}
