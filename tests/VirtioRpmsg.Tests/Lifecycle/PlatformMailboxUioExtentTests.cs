using System.Text.Json.Nodes;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Tests.Memory;
using static VirtioRpmsg.Tests.Lifecycle.PlatformTestJson;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// A uio mailbox region described without a size is only sized at open (from sysfs): a mailbox whose
/// registers do not fit the mapped region must then be refused as the description's fault, naming
/// <c>doorbell.mailbox.offset</c> and its value, as the resource table and vrings are.
/// </summary>
public sealed class PlatformMailboxUioExtentTests
{
    // A fake uio0 whose map 0 is one page of registers ("mbox"), and a description using it without "size".
    private static PlatformResources OpenWithMailbox(TestFiles files, string mailbox)
    {
        string sysfs = files.PathOf("sys-class-uio");
        string map = Path.Combine(sysfs, "uio0", "maps", "map0");
        Directory.CreateDirectory(map);
        File.WriteAllText(Path.Combine(map, "addr"), "0x30aa0000\n");
        File.WriteAllText(Path.Combine(map, "size"), "0x1000\n");
        File.WriteAllText(Path.Combine(map, "offset"), "0x0\n");
        Directory.CreateDirectory(files.PathOf("dev"));
        string node = files.CreateFile(Path.Combine("dev", "uio0"), 0x1000);
        var description = PlatformDescription.Parse(Mutate(t =>
        {
            t["resourceTable"] = "none";
            var region = new JsonObject { ["name"] = "mbox", ["kind"] = "uio", ["device"] = node, ["sysfsRoot"] = sysfs, ["mapIndex"] = 0 };
            t["regions"]!.AsArray().Add(region);
            t["doorbell"] = JsonNode.Parse($$"""{ "kind": "uio", "device": "uio9", "mailbox": {{mailbox}} }""");
        }));
        return PlatformResources.Open(description);
    }

    [Theory]
    [InlineData("""{ "kind": "imxMu", "region": "mbox", "offset": "0x1000" }""", "0x1000")]
    [InlineData("""{ "kind": "xilinxIpi", "region": "mbox", "offset": "0xFF0", "peerMask": "0x100" }""", "0xFF0")]
    [InlineData("""{ "kind": "register", "region": "mbox", "offset": "0x2000" }""", "0x2000")]
    [InlineData("""{ "kind": "imxMu", "region": "mbox", "offset": "0x8000000000000000" }""", "0x8000000000000000")]
    public void CreateDoorbell_MailboxOutsideTheMappedUioRegion_NamesTheOffset(string mailbox, string value)
    {
        using var files = new TestFiles();
        using var platform = OpenWithMailbox(files, mailbox);

        var e = Assert.Throws<PlatformDescriptionException>(() => platform.CreateDoorbell());

        Assert.Equal("doorbell.mailbox.offset", e.JsonPath);
        Assert.Equal(value, e.Value);
        Assert.Contains("mbox", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateDoorbell_StatusRegisterOutsideTheMappedUioRegion_NamesTheStatusOffset()
    {
        using var files = new TestFiles();
        using var platform = OpenWithMailbox(files, """{ "kind": "register", "region": "mbox", "offset": "0x0", "statusOffset": "0x1000", "statusFullMask": 1 }""");

        var e = Assert.Throws<PlatformDescriptionException>(() => platform.CreateDoorbell());

        Assert.Equal("doorbell.mailbox.statusOffset", e.JsonPath);
        Assert.Equal("0x1000", e.Value);
    }
}
