using System.Text.Json.Nodes;
using VirtioRpmsg.Lifecycle;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>A valid description as a mutable JSON tree, and helpers to parse a mutation of it.</summary>
internal static class PlatformTestJson
{
    /// <summary>Host, one anonymous region with the OpenAMP layout, polling doorbell: valid as is.</summary>
    public const string Valid = """
        {
          "role": "host",
          "regions": [
            { "name": "shm", "kind": "anonymous", "deviceAddress": "0x0", "size": "0x80000" }
          ],
          "resourceTable": { "region": "shm", "offset": "0x0" },
          "vdev": {
            "vring0Address": "0x4000", "vring1Address": "0x8000", "vringNum": 256, "vringAlign": 4096,
            "bufferPoolAddress": "0x10000", "bufferCount": 512, "bufferSize": 512
          },
          "doorbell": { "kind": "polling" },
          "waitStrategy": "hybrid"
        }
        """;

    public static JsonObject Tree() => JsonNode.Parse(Valid)!.AsObject();

    public static JsonObject Region(JsonObject tree, int index) => tree["regions"]![index]!.AsObject();

    public static string Mutate(Action<JsonObject> change)
    {
        var tree = Tree();
        change(tree);
        return tree.ToJsonString();
    }

    /// <summary>Parses a mutation of <see cref="Valid"/>, expecting a rejection naming <paramref name="path"/>.</summary>
    public static PlatformDescriptionException Reject(Action<JsonObject> change, string path) => RejectJson(Mutate(change), path);

    public static PlatformDescriptionException RejectJson(string json, string path)
    {
        var e = Assert.Throws<PlatformDescriptionException>(() => PlatformDescription.Parse(json));
        Assert.Equal(path, e.JsonPath);
        Assert.Contains(path, e.Message);
        Assert.Contains(e.Value, e.Message);
        return e;
    }

    /// <summary>A unique /dev/shm path for one test; delete it with <see cref="Delete"/>.</summary>
    public static string ShmPath() => "/dev/shm/vrpmsg-test-platform-" + Guid.NewGuid().ToString("N");

    public static void Delete(string path)
    {
        if (File.Exists(path))
            File.Delete(path);
    }

    /// <summary>docs/platforms of the repository the tests were built from.</summary>
    public static string ExamplesDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "docs", "platforms");
            if (Directory.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "VirtioRpmsg.sln")))
                return candidate;
        }
        throw new DirectoryNotFoundException("docs/platforms not found above " + AppContext.BaseDirectory);
    }
}
