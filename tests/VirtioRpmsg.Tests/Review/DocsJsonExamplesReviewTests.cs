using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Tests.Lifecycle;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Every JSON example in the docs' markdown parses and validates (the files of docs/platforms are
/// PlatformExampleFilesTests'). A whole description is parsed as it is; a fragment (<c>"mailbox": {...}</c>,
/// <c>"additionalVdevs": [...]</c>) is put where it belongs in a valid description, so what a reader copies into
/// board.json is what the loader accepts.
/// </summary>
public sealed partial class DocsJsonExamplesReviewTests
{
    [GeneratedRegex(@"^```jsonc?[ \t]*\r?\n(.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex JsonBlock();

    private static string DocsDirectory() => Path.GetDirectoryName(PlatformTestJson.ExamplesDirectory())!;

    private static IEnumerable<(string Name, string Json)> Blocks()
    {
        foreach (string file in Directory.GetFiles(DocsDirectory(), "*.md").Order(StringComparer.Ordinal))
        {
            string text = File.ReadAllText(file);
            foreach (Match m in JsonBlock().Matches(text))
            {
                int line = text.AsSpan(0, m.Index).Count('\n') + 1;
                yield return ($"{Path.GetFileName(file)}:{line}", m.Groups[1].Value);
            }
        }
    }

    public static TheoryData<string> Examples() => new(Blocks().Select(b => b.Name));

    [Fact]
    public void Docs_HaveJsonExamples() => Assert.True(Blocks().Count() >= 5, string.Join(", ", Blocks().Select(b => b.Name)));

    [Theory]
    [MemberData(nameof(Examples))]
    public void DocsJsonExample_ParsesAndValidates(string name)
    {
        string json = Blocks().Single(b => b.Name == name).Json.Trim();

        var description = PlatformDescription.Parse(Complete(json));

        Assert.NotEmpty(description.Regions);
    }

    /// <summary>A whole description as it is; a fragment inside <see cref="PlatformTestJson.Valid"/>.</summary>
    private static string Complete(string json)
    {
        if (json.StartsWith('{'))
            return json;
        var tree = PlatformTestJson.Tree();
        // The fragment is one "name": value member: parse it inside braces (comments and trailing commas allowed).
        var fragment = JsonNode.Parse("{" + json + "}", documentOptions: new() { CommentHandling = System.Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true })!.AsObject();
        var (key, value) = Assert.Single(fragment);
        switch (key)
        {
            case "mailbox":
                // Where uio-setup.md puts it: a uio doorbell over a uio region "mbox" (sized as the smallest block in the
                // doc's device trees, 0x200) beside the shared memory.
                tree["regions"]!.AsArray().Add(JsonNode.Parse("""{ "name": "mbox", "kind": "uio", "device": "uio1", "size": "0x200" }"""));
                tree["doorbell"] = new JsonObject { ["kind"] = "uio", ["device"] = "uio1", ["mailbox"] = value!.DeepClone() };
                break;
            case "additionalVdevs":
                tree["additionalVdevs"] = value!.DeepClone();
                break;
            default:
                Assert.Fail($"a JSON example in the docs that is neither a description nor a known fragment: \"{key}\"");
                break;
        }
        return tree.ToJsonString();
    }
}
