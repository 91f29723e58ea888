using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Aeterna.Build;

/// <summary>
/// Reads the relay schema the generator stored in an assembly as
/// <c>[assembly: AssemblyMetadata("Aeterna.RelaySchema", "[…]")]</c>, from its metadata alone:
/// nothing is loaded or run.
/// </summary>
internal static class RelaySchemaReader
{
    public const string MetadataKey = "Aeterna.RelaySchema";

    /// <summary>The schema's JSON array, or null when the file is not an assembly or has none.</summary>
    public static string? Read(string path)
    {
        if (!File.Exists(path)) return null;
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        if (!pe.HasMetadata) return null;
        var metadata = pe.GetMetadataReader();
        if (!metadata.IsAssembly) return null;
        foreach (var handle in metadata.GetAssemblyDefinition().GetCustomAttributes())
        {
            var attribute = metadata.GetCustomAttribute(handle);
            if (!IsAssemblyMetadata(metadata, attribute)) continue;
            var blob = metadata.GetBlobReader(attribute.Value);
            if (blob.ReadUInt16() != 1) continue; // the custom attribute prolog
            if (blob.ReadSerializedString() == MetadataKey) return blob.ReadSerializedString();
        }
        return null;
    }

    private static bool IsAssemblyMetadata(MetadataReader metadata, CustomAttribute attribute)
    {
        if (attribute.Constructor.Kind != HandleKind.MemberReference) return false;
        var parent = metadata.GetMemberReference((MemberReferenceHandle)attribute.Constructor).Parent;
        if (parent.Kind != HandleKind.TypeReference) return false;
        var type = metadata.GetTypeReference((TypeReferenceHandle)parent);
        return metadata.StringComparer.Equals(type.Name, "AssemblyMetadataAttribute")
            && metadata.StringComparer.Equals(type.Namespace, "System.Reflection");
    }
}
