using System.Text.Json.Nodes;
using VirtioRpmsg.Lifecycle;
using static VirtioRpmsg.Tests.Lifecycle.PlatformTestJson;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// What a user feeds in as board.json, beyond the cases of PlatformDescriptionErrorTests: ranges that end exactly at
/// the top of the 64-bit address space, counts that are not 32-bit whole numbers, a BOM, a directory, a file far too
/// large to be a description. Each is a <see cref="PlatformDescriptionException"/> naming the path and the value, with
/// a detail that says what is wrong (or, for the BOM, no error at all).
/// </summary>
public sealed class PlatformDescriptionInputReviewTests
{
    private static JsonObject Vdev(JsonObject t) => t["vdev"]!.AsObject();

    private static JsonNode Json(string text) => JsonNode.Parse(text)!;

    // One region [0xFFFFFFFFFFF80000, 2^64): every range in it that reaches the last byte has Start + Length == 0 in ulong.
    private static void AtTheTop(JsonObject t)
    {
        Region(t, 0)["deviceAddress"] = "0xFFFFFFFFFFF80000";
        t["resourceTable"] = "none";
        var v = Vdev(t);
        v["vring0Address"] = "0xFFFFFFFFFFF84000";
        v["vring1Address"] = "0xFFFFFFFFFFF88000";
        v["bufferPoolAddress"] = "0xFFFFFFFFFFF90000";
        v["bufferCount"] = 2;
        v["bufferSize"] = 32;
    }

    // name -> (mutation of the valid description, the path the error must name)
    private static readonly Dictionary<string, (Action<JsonObject> Change, string Path)> Overlaps = new()
    {
        ["two identical regions ending at 2^64"] = (t =>
        {
            t["regions"]!.AsArray().Add(Json("""{ "name": "b", "kind": "anonymous", "deviceAddress": "0xFFFFFFFFFFFF0000", "size": "0x10000" }"""));
            t["regions"]!.AsArray().Add(Json("""{ "name": "c", "kind": "anonymous", "deviceAddress": "0xFFFFFFFFFFFF0000", "size": "0x10000" }"""));
        }, "regions[2].deviceAddress"),
        ["a region inside one ending at 2^64"] = (t =>
        {
            t["regions"]!.AsArray().Add(Json("""{ "name": "b", "kind": "anonymous", "deviceAddress": "0xFFFFFFFFFFFF0000", "size": "0x10000" }"""));
            t["regions"]!.AsArray().Add(Json("""{ "name": "c", "kind": "anonymous", "deviceAddress": "0xFFFFFFFFFFFF8000", "size": "0x1000" }"""));
        }, "regions[2].deviceAddress"),
        ["pool ending at 2^64 over vring 1"] = (t =>
        {
            AtTheTop(t);
            Vdev(t)["vring1Address"] = "0xFFFFFFFFFFFFC000"; // 256 entries: [0x...C000, +0x2806)
            Vdev(t)["bufferPoolAddress"] = "0xFFFFFFFFFFFFE000";
            Vdev(t)["bufferPoolSize"] = "0x2000";
        }, "vdev.bufferPoolAddress"),
        ["vring 1 over a pool ending at 2^64"] = (t =>
        {
            AtTheTop(t);
            Vdev(t)["vringNum"] = 16;
            Vdev(t)["vringAlign"] = 16;
            Vdev(t)["bufferPoolAddress"] = "0xFFFFFFFFFFFFE000";
            Vdev(t)["bufferPoolSize"] = "0x2000";
            Vdev(t)["vring1Address"] = "0xFFFFFFFFFFFFFE00";
        }, "vdev.bufferPoolAddress"),
    };

    public static TheoryData<string> OverlapCases() => new(Overlaps.Keys);

    [Theory]
    [MemberData(nameof(OverlapCases))]
    public void Parse_OverlapReachingTheEndOfTheAddressSpace_IsRejected(string name)
    {
        var (change, path) = Overlaps[name];

        var e = Reject(change, path);

        Assert.Contains("overlaps", e.Detail);
    }

    [Fact]
    public void Parse_LayoutEndingExactlyAt2To64_IsAccepted()
    {
        var d = PlatformDescription.Parse(Mutate(t =>
        {
            AtTheTop(t);
            Vdev(t)["bufferPoolAddress"] = "0xFFFFFFFFFFFFFFC0";
        }));

        Assert.Equal(0xFFFFFFFFFFFFFFC0UL, d.Vdev.BufferPoolAddress);
    }

    // One file as two regions: opening the second (create: true) resizes the file under the first's mapping, and the
    // first access past the new end is SIGBUS: `rpmsg remote` over such a file died with "Fatal error.
    // System.AccessViolationException ... at MappingLease.WriteUInt32Release ... PlatformResources.WriteResourceTable".
    [Theory]
    [InlineData("/dev/shm/vrpmsg-review-board.shm", true)]
    [InlineData("/dev/shm//vrpmsg-review-board.shm", true)]
    [InlineData("/dev/shm/./vrpmsg-review-board.shm", false)]
    public void Parse_SameShmFileInTwoRegions_IsRejectedAtTheSecondPath(string secondPath, bool create)
    {
        var e = Reject(t =>
        {
            var first = Region(t, 0);
            first["kind"] = "shmFile";
            first["path"] = "/dev/shm/vrpmsg-review-board.shm";
            first["create"] = true;
            t["regions"]!.AsArray().Add(new JsonObject
            {
                ["name"] = "copy", ["kind"] = "shmFile", ["path"] = secondPath, ["create"] = create, ["deviceAddress"] = "0x100000", ["size"] = "0x1000",
            });
        }, "regions[1].path");

        Assert.Equal($"\"{secondPath}\"", e.Value);
        Assert.Contains("regions[0]", e.Detail);
    }

    // Every vdev needs its own doorbell channel; the same channel spelt another way is still the same channel:
    // "uio0" and "/dev/uio0" open one device, "/tmp/bell" and "/tmp//bell" one socket.
    [Theory]
    [InlineData("uio", "uio0", "/dev/uio0")]
    [InlineData("uio", "/dev/uio3", "uio3")]
    [InlineData("unixSocket", "/tmp/vrpmsg-review-bell", "/tmp//vrpmsg-review-bell")]
    [InlineData("unixSocket", "/tmp/vrpmsg-review-bell", "/tmp/./vrpmsg-review-bell")]
    public void Parse_TwoVdevsOnOneDoorbellChannelSpeltTwoWays_IsRejected(string kind, string first, string second)
    {
        string field = kind == "uio" ? "device" : "path";

        var e = Reject(t =>
        {
            t["doorbell"] = new JsonObject { ["kind"] = kind, [field] = first };
            t["additionalVdevs"] = new JsonArray(new JsonObject
            {
                ["vdev"] = new JsonObject
                {
                    ["vring0Address"] = "0x60000", ["vring1Address"] = "0x64000", ["vringNum"] = 32, ["vringAlign"] = 4096,
                    ["bufferPoolAddress"] = "0x68000", ["bufferCount"] = 64, ["bufferSize"] = 256,
                },
                ["doorbell"] = new JsonObject { ["kind"] = kind, [field] = second },
            });
        }, "additionalVdevs[0].doorbell");

        Assert.Contains("vdev 0's doorbell channel", e.Detail);
    }

    // Counts are plain 32-bit numbers (docs/platform-description.md, Syntax): a count out of range, a fraction or a
    // quoted number is named with its value and a detail that says so, not "the wrong JSON type".
    public static TheoryData<string, string, string> BadCounts() => new()
    {
        { "vdev.vringNum", "4294967296", "whole number" },
        { "vdev.vringNum", "1.5", "whole number" },
        { "vdev.bufferCount", "1e3", "whole number" },
        { "vdev.bufferSize", "-99999999999", "whole number" },
        { "vdev.vringAlign", "\"4096\"", "plain number" },
        { "vdev.bufferCount", "true", "not a boolean" },
    };

    [Theory]
    [MemberData(nameof(BadCounts))]
    public void Parse_CountThatIsNotA32BitWholeNumber_SaysSo(string path, string value, string detail)
    {
        string field = path["vdev.".Length..];

        var e = Reject(t => Vdev(t)[field] = Json(value), path);

        Assert.Equal(value, e.Value);
        Assert.Contains(detail, e.Detail);
        Assert.DoesNotContain("wrong JSON type", e.Detail);
    }

    [Fact]
    public void Parse_ChannelListElementNotANumber_NamesTheElement()
    {
        var tree = Tree();
        tree["regions"]!.AsArray().Add(Json("""{ "name": "mbox", "kind": "anonymous", "deviceAddress": "0x100000", "size": "0x1000" }"""));
        tree["doorbell"] = Json("""{ "kind": "uio", "device": "uio0", "mailbox": { "kind": "stm32Ipcc", "region": "mbox", "offset": 0, "vringChannels": [0, "1"] } }""");

        var e = RejectJson(tree.ToJsonString(), "doorbell.mailbox.vringChannels[1]");

        Assert.Equal("\"1\"", e.Value);
        Assert.Contains("plain number", e.Detail);
    }

    [Fact]
    public void Parse_LeadingByteOrderMark_IsIgnoredAsLoadIgnoresIt()
    {
        var d = PlatformDescription.Parse("\uFEFF" + Valid);

        Assert.Equal(PlatformRole.Host, d.Role);
    }

    [Fact]
    public void Load_Directory_SaysItIsADirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "vrpmsg-test-board-dir-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var e = Assert.Throws<FileNotFoundException>(() => PlatformDescription.Load(dir));

            Assert.Contains(dir, e.Message);
            Assert.Contains("directory", e.Message);
        }
        finally
        {
            Directory.Delete(dir);
        }
    }

    [Fact]
    public void Load_MissingFile_IsFileNotFoundNamingThePath()
    {
        string path = Path.Combine(Path.GetTempPath(), "vrpmsg-test-no-board-" + Guid.NewGuid().ToString("N") + ".json");

        var e = Assert.Throws<FileNotFoundException>(() => PlatformDescription.Load(path));

        Assert.Contains(path, e.Message);
    }

    // A description is a few kilobytes; a file past the limit (a log, an image, /dev/zero) is refused before it is read
    // whole, naming the file, instead of being read into memory and then reported as "not valid JSON".
    [Fact]
    public void Load_FileLargerThanAnyDescription_IsRefusedNamingTheFileAndTheLimit()
    {
        string path = Path.Combine(Path.GetTempPath(), "vrpmsg-test-huge-board-" + Guid.NewGuid().ToString("N") + ".json");
        try
        {
            using (var file = File.Create(path))
                file.SetLength(PlatformDescription.MaxFileBytes + 1); // sparse: zeros, no disk

            var e = Assert.Throws<PlatformDescriptionException>(() => PlatformDescription.Load(path));

            Assert.Equal("$", e.JsonPath);
            Assert.Equal(path, e.Source);
            Assert.Contains($"{PlatformDescription.MaxFileBytes}", e.Detail);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
