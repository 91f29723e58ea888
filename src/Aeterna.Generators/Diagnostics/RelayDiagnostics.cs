using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace Aeterna.Generators.Diagnostics;

/// <summary>
/// Every diagnostic the generator reports. Each message names the member and the fix; each links to
/// its section of docs/diagnostics.md (the anchor is the lower-cased ID).
/// </summary>
internal static class RelayDiagnostics
{
    private const string Category = "Aeterna.RelayState";
    private const string HelpBase = "https://example.invalid/aeterna/blob/main/docs/diagnostics.md#";

    public static readonly DiagnosticDescriptor TypeNotPartial = Error("AET0001",
        "Type with [RelayState] members must be partial",
        "'{0}' has [RelayState] member '{1}', but '{2}' is not partial, so the generator cannot add the relay code to it. Fix: declare '{2}' as partial.");

    public static readonly DiagnosticDescriptor UnsupportedType = Error("AET0002",
        "Member type cannot be relayed",
        "[RelayState] member '{0}' has type '{1}': {2}. Fix: {3}");

    public static readonly DiagnosticDescriptor ReadonlyField = Error("AET0003",
        "[RelayState] field is readonly",
        "[RelayState] field '{0}' is readonly, so the new generation cannot read the old one's value into it. Fix: remove 'readonly' from '{0}'.");

    public static readonly DiagnosticDescriptor StaticMember = Error("AET0004",
        "[RelayState] member is static",
        "[RelayState] member '{0}' is static; relay state is read into the instance registered with AddRelayState. Fix: make '{0}' an instance member.");

    public static readonly DiagnosticDescriptor DuplicateKey = Error("AET0005",
        "Two [RelayState] members have the same key",
        "[RelayState] members '{0}' and '{1}' of '{2}' both have the key '{3}', so one would be read as the other. Fix: give '{1}' its own key, e.g. [RelayState(\"{3}2\")].");

    public static readonly DiagnosticDescriptor RemovedKeyReused = Error("AET0006",
        "A removed key is reused",
        "[RelayState] member '{0}' uses the key '{1}', which [RelayRemovedKeys] on '{2}' lists as removed: an older generation's value of the removed member would be read into it. Fix: give '{0}' a new key.");

    public static readonly DiagnosticDescriptor PropertyWithoutSetter = Error("AET0007",
        "[RelayState] property has no setter",
        "[RelayState] property '{0}' has no set or init accessor, so the new generation cannot read the old one's value into it. Fix: add a setter to '{0}' (it may be private), or mark its backing field instead.");

    public static readonly DiagnosticDescriptor KeyHashCollision = Error("AET0008",
        "Two keys have the same hash",
        "The keys '{0}' (of '{1}') and '{2}' (of '{3}') in '{4}' hash to the same wire id 0x{5}. Fix: give '{3}' another key with [RelayState(\"...\")].");

    public static readonly DiagnosticDescriptor InvalidKey = Error("AET0009",
        "[RelayState] key is empty",
        "[RelayState] member '{0}' has an empty key. Fix: remove the key to use the member's name, or give a non-empty one.");

    public static readonly DiagnosticDescriptor NoConstructor = Error("AET0010",
        "Relay state type cannot be created",
        "'{0}' has [RelayState] members but {1}, so a reader cannot create it. Fix: {2}");

    public static readonly DiagnosticDescriptor UnsupportedContainer = Error("AET0011",
        "Type cannot hold [RelayState] members",
        "'{0}' cannot hold [RelayState] members: {1}. Fix: {2}");

    public static readonly DiagnosticDescriptor UnsupportedMember = Error("AET0012",
        "Member cannot be relay state",
        "[RelayState] member '{0}' is {1}. Fix: {2}");

    public static readonly DiagnosticDescriptor InheritedState = Error("AET0013",
        "Relay state type derives from another one",
        "'{0}' derives from '{1}', which has [RelayState] members too; each would write only its own members. Fix: hold a '{1}' as a [RelayState] member instead of deriving from it, or move the members into one type.");

    public static readonly DiagnosticDescriptor UnsupportedMemoryPackType = Error("AET0014",
        "MemoryPack type cannot be relayed",
        "[RelayState] member '{0}' has type '{1}', a MemoryPack type that cannot be relayed: {2}. Fix: {3}.");

    public static readonly DiagnosticDescriptor MemoryPackNotReferenced = Error("AET0015",
        "MemoryPack is not referenced",
        "[RelayState] member '{0}' has type '{1}', {2}. Fix: {3}.");

    public static readonly DiagnosticDescriptor DuplicateListener = Error("AET0020",
        "Listener declared twice",
        "The listener '{0}' is declared more than once with [assembly: RelayListener]. Fix: remove one declaration or rename it.");

    public static readonly DiagnosticDescriptor InvalidListenerAddress = Error("AET0021",
        "Listener address is invalid",
        "The address of listener '{0}' is invalid: {1} Fix: {2}");

    public static readonly DiagnosticDescriptor InvalidListenerName = Error("AET0022",
        "Listener name is invalid",
        "The listener name '{0}' is invalid: {1} Fix: {2}");

    public static IReadOnlyList<DiagnosticDescriptor> All { get; } =
    [
        TypeNotPartial, UnsupportedType, ReadonlyField, StaticMember, DuplicateKey, RemovedKeyReused, PropertyWithoutSetter,
        KeyHashCollision, InvalidKey, NoConstructor, UnsupportedContainer, UnsupportedMember, InheritedState,
        UnsupportedMemoryPackType, MemoryPackNotReferenced,
        DuplicateListener, InvalidListenerAddress, InvalidListenerName,
    ];

    private static readonly Dictionary<string, DiagnosticDescriptor> s_byId = All.ToDictionary(d => d.Id);

    public static DiagnosticDescriptor ById(string id) => s_byId[id];

    private static DiagnosticDescriptor Error(string id, string title, string message) =>
        new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
            helpLinkUri: HelpBase + id.ToLowerInvariant());
}
