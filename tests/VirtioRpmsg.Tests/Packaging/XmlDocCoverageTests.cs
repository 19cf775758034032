using System.Reflection;
using System.Runtime.CompilerServices;
using System.Xml.Linq;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Tests.Packaging;

/// <summary>
/// The XML documentation file of each packed assembly (the library, the simulation package) has an entry for
/// every public type and member, so a doc comment removed (or CS1591 suppressed again) shows up here as well
/// as in the build.
/// </summary>
public sealed class XmlDocCoverageTests
{
    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    public static TheoryData<string> PackedAssemblies => [typeof(SharedMemoryRegion).Assembly.GetName().Name!, typeof(SimulatedRemote).Assembly.GetName().Name!];

    [Theory]
    [MemberData(nameof(PackedAssemblies))]
    public void XmlDocs_EveryPublicTypeAndMember_HasAnEntry(string assemblyName)
    {
        var assembly = Assembly.Load(assemblyName);
        string xmlPath = Path.ChangeExtension(assembly.Location, ".xml");
        Assert.True(File.Exists(xmlPath), $"no XML documentation file at {xmlPath}");
        var members = XDocument.Load(xmlPath).Descendants("member")
            .ToDictionary(m => (string)m.Attribute("name")!, m => m);

        var missing = new List<string>();
        foreach (var type in assembly.GetExportedTypes())
        {
            string typeId = DocName(type);
            if (!members.TryGetValue("T:" + typeId, out var typeDoc))
            {
                missing.Add("T:" + typeId);
                continue;
            }
            // Positional record properties are documented by the type's <param> tags.
            var typeParams = typeDoc.Elements("param").Select(p => (string?)p.Attribute("name")).ToHashSet();
            foreach (var member in type.GetMembers(Declared).Where(IsVisible))
            {
                if (member.IsDefined(typeof(CompilerGeneratedAttribute)) || member is MethodInfo { IsSpecialName: true, Name: not ("op_Equality" or "op_Inequality") } || member is Type)
                    continue;
                if (type.IsEnum && member.Name == "value__")
                    continue;
                // Delegate plumbing and implicit default constructors have no source to document.
                if (type.IsSubclassOf(typeof(Delegate)) || member is ConstructorInfo c && c.GetParameters().Length == 0)
                    continue;
                bool documented = member switch
                {
                    PropertyInfo p => members.ContainsKey($"P:{typeId}.{p.Name}") || members.Keys.Any(k => k.StartsWith($"P:{typeId}.{p.Name}(", StringComparison.Ordinal)) || typeParams.Contains(p.Name),
                    FieldInfo f => members.ContainsKey($"F:{typeId}.{f.Name}"),
                    EventInfo e => members.ContainsKey($"E:{typeId}.{e.Name}"),
                    ConstructorInfo => members.Keys.Any(k => k.StartsWith($"M:{typeId}.#ctor", StringComparison.Ordinal)),
                    MethodInfo m => members.ContainsKey($"M:{typeId}.{m.Name}") || members.Keys.Any(k => k.StartsWith($"M:{typeId}.{m.Name}(", StringComparison.Ordinal) || k.StartsWith($"M:{typeId}.{m.Name}``", StringComparison.Ordinal)),
                    _ => true,
                };
                if (!documented)
                    missing.Add($"{member.MemberType} {typeId}.{member.Name}");
            }
        }

        Assert.True(missing.Count == 0, "public API without XML docs:\n" + string.Join('\n', missing));
    }

    private static bool IsVisible(MemberInfo member) => member switch
    {
        MethodBase m => m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly,
        FieldInfo f => f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly,
        PropertyInfo p => (p.GetMethod ?? p.SetMethod) is { } a && IsVisible(a),
        EventInfo e => e.AddMethod is { } a && IsVisible(a),
        _ => false,
    };

    // Doc-comment id of a type: namespace-qualified, '.' between nested types, `N for generics.
    private static string DocName(Type type) => type.FullName!.Replace('+', '.');
}
