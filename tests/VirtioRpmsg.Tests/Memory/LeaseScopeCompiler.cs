using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace VirtioRpmsg.Tests.Memory;

/// <summary>
/// Compiles a snippet against the library with Roslyn, to prove what the C# compiler forbids (a span
/// from a lease escaping the lease's scope) rather than only saying so in docs.
/// </summary>
internal static class LeaseScopeCompiler
{
    private static readonly Lazy<MetadataReference[]> References = new(() =>
    {
        var platform = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        return platform
            .Append(typeof(VirtioRpmsg.Memory.MappingLease).Assembly.Location)
            .Distinct()
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .ToArray();
    });

    /// <summary>The error ids of compiling <paramref name="body"/> as a class body (usings for the library's namespaces included).</summary>
    public static string[] Errors(string body)
    {
        string source = "using System; using VirtioRpmsg.Memory; using VirtioRpmsg.Rpmsg;\n" +
                        "public static class Snippet {\n" + body + "\n}\n";
        var compilation = CSharpCompilation.Create(
            "LeaseScopeSnippet",
            [CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest))],
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true));
        return compilation.GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .Select(d => $"{d.Id}: {d.GetMessage()}")
            .ToArray();
    }
}
