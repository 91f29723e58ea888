using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Aeterna.Generators.Diagnostics;
using Aeterna.Generators.Model;
using Microsoft.CodeAnalysis;

namespace Aeterna.Generators.Parsing;

/// <summary>One [assembly: RelayListener(name, address)] as written, with where it was written.</summary>
internal sealed record ListenerDeclaration(string Name, string Address, LocationInfo? Location);

/// <summary>The valid listeners of the assembly and the diagnostics for the others.</summary>
internal sealed record ListenersModel(EquatableArray<ListenerModel> Listeners, EquatableArray<DiagnosticInfo> Diagnostics);

internal static class ListenerParser
{
    public static EquatableArray<ListenerDeclaration> Declarations(ImmutableArray<AttributeData> attributes) =>
        attributes
            .Where(a => a.ConstructorArguments.Length == 2)
            .Select(a => new ListenerDeclaration(
                a.ConstructorArguments[0].Value as string ?? "",
                a.ConstructorArguments[1].Value as string ?? "",
                LocationInfo.From(a.ApplicationSyntaxReference?.GetSyntax().GetLocation())))
            .ToEquatableArray();

    /// <summary>Checks every declaration of the assembly together (duplicates span files).</summary>
    public static ListenersModel Validate(IEnumerable<ListenerDeclaration> declarations)
    {
        var listeners = new List<ListenerModel>();
        var diagnostics = new List<DiagnosticInfo>();
        var names = new HashSet<string>();
        var accessors = new Dictionary<string, string>();
        foreach (var declaration in declarations.OrderBy(d => d.Location?.FilePath).ThenBy(d => d.Location?.Span.Start))
        {
            var location = declaration.Location;
            if (!ListenerRules.IsValidName(declaration.Name, out string? problem, out string? fix))
            {
                diagnostics.Add(new DiagnosticInfo(RelayDiagnostics.InvalidListenerName.Id, location, new[] { declaration.Name, problem!, fix! }.ToEquatableArray()));
                continue;
            }
            if (!names.Add(declaration.Name))
            {
                diagnostics.Add(new DiagnosticInfo(RelayDiagnostics.DuplicateListener.Id, location, new[] { declaration.Name }.ToEquatableArray()));
                continue;
            }
            if (!ListenerRules.IsValidAddress(declaration.Address, out problem, out fix))
            {
                diagnostics.Add(new DiagnosticInfo(RelayDiagnostics.InvalidListenerAddress.Id, location, new[] { declaration.Name, problem!, fix! }.ToEquatableArray()));
                continue;
            }
            string accessor = ListenerRules.AccessorName(declaration.Name);
            if (accessors.TryGetValue(accessor, out string? other))
            {
                diagnostics.Add(new DiagnosticInfo(RelayDiagnostics.InvalidListenerName.Id, location, new[]
                {
                    declaration.Name, $"it and '{other}' would both get the accessor AeternaListeners.{accessor}.", "Rename one of them.",
                }.ToEquatableArray()));
                continue;
            }
            accessors.Add(accessor, declaration.Name);
            listeners.Add(new ListenerModel(declaration.Name, declaration.Address, accessor));
        }
        return new ListenersModel(listeners.ToEquatableArray(), diagnostics.ToEquatableArray());
    }
}
