using System.Globalization;
using System.Linq;
using System.Text;
using Aeterna.Generators.Model;

namespace Aeterna.Generators.Emit;

/// <summary>
/// A state type's entry in the relay manifest (docs/wire-format.md, "Manifest"): its members with
/// keys, ids, C# types and wire types, and a fingerprint of its keys and wire types.
/// </summary>
internal static class SchemaWriter
{
    public static string TypeJson(StateTypeModel model, string assemblyName, IRelayBackend backend)
    {
        var json = new StringBuilder();
        json.Append("{\"name\":").Append(Quote(model.DisplayName))
            .Append(",\"assembly\":").Append(Quote(assemblyName))
            .Append(",\"fingerprint\":").Append(Quote(Fingerprint(model, backend)))
            .Append(",\"members\":[");
        bool first = true;
        foreach (var member in model.Members)
        {
            if (!first) json.Append(',');
            first = false;
            json.Append("{\"name\":").Append(Quote(member.Name))
                .Append(",\"key\":").Append(Quote(member.Key))
                .Append(",\"id\":").Append(Quote("0x" + member.Id.ToString("x8", CultureInfo.InvariantCulture)))
                .Append(",\"type\":").Append(Quote(member.Type.DisplayName))
                .Append(",\"wire\":").Append(Quote(backend.WireText(member.Type)));
            string layouts = MemoryPackLayouts(member);
            if (layouts.Length > 0) json.Append(",\"memorypack\":").Append(layouts);
            json.Append('}');
        }
        return json.Append("]}").ToString();
    }

    /// <summary>FNV-1a 64 over "key=wire;" for the members sorted by key: equal for types that read each other's data unchanged.</summary>
    public static string Fingerprint(StateTypeModel model, IRelayBackend backend)
    {
        ulong hash = 14695981039346656037;
        foreach (var member in model.Members.OrderBy(m => m.Key, System.StringComparer.Ordinal))
        {
            foreach (byte b in Encoding.UTF8.GetBytes(member.Key + "=" + backend.WireText(member.Type) + MemoryPackLayouts(member) + ";"))
            {
                hash ^= b;
                hash *= 1099511628211;
            }
        }
        return hash.ToString("x16", CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The layouts of the MemoryPack types in a member (the wire type only names them):
    /// <c>[{"name":…,"mode":…,"members":[{"order":0,"name":…,"type":…},…]},…]</c>, or "" when it has none.
    /// </summary>
    public static string MemoryPackLayouts(MemberModel member)
    {
        var layouts = member.Type.AllMemoryPackTypes().ToList();
        if (layouts.Count == 0) return "";
        var json = new StringBuilder("[");
        for (int i = 0; i < layouts.Count; i++)
        {
            if (i > 0) json.Append(',');
            json.Append("{\"name\":").Append(Quote(layouts[i].DisplayName))
                .Append(",\"mode\":").Append(Quote(layouts[i].Mode))
                .Append(",\"members\":[");
            for (int m = 0; m < layouts[i].Members.Count; m++)
            {
                var item = layouts[i].Members[m];
                if (m > 0) json.Append(',');
                json.Append("{\"order\":").Append(item.Order.ToString(CultureInfo.InvariantCulture))
                    .Append(",\"name\":").Append(Quote(item.Name))
                    .Append(",\"type\":").Append(Quote(item.Type))
                    .Append('}');
            }
            json.Append("]}");
        }
        return json.Append(']').ToString();
    }

    public static string Quote(string text)
    {
        var json = new StringBuilder("\"");
        foreach (char c in text)
        {
            switch (c)
            {
                case '"': json.Append("\\\""); break;
                case '\\': json.Append("\\\\"); break;
                case '\n': json.Append("\\n"); break;
                case '\r': json.Append("\\r"); break;
                case '\t': json.Append("\\t"); break;
                default:
                    if (c < 0x20) json.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else json.Append(c);
                    break;
            }
        }
        return json.Append('"').ToString();
    }
}
