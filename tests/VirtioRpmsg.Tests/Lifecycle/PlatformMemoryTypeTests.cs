using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;
using static VirtioRpmsg.Tests.Lifecycle.PlatformTestJson;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>The description's "memory" (per region) and "barriers" fields (issue 14 items 1 and 8).</summary>
public class PlatformMemoryTypeTests
{
    [Fact]
    public void Open_MemoryAndBarriersDeclared_RegionsHaveThem()
    {
        string json = Mutate(t =>
        {
            Region(t, 0)["memory"] = "device";
            t["barriers"] = "system";
            t["resourceTable"] = "none"; // explicit layout: the host opens without waiting for a remote's table
        });
        var d = PlatformDescription.Parse(json);
        Assert.Equal(PlatformMemoryType.Device, d.Regions[0].Memory);
        Assert.Equal(PlatformBarriers.System, d.Barriers);
        Assert.Contains("\"memory\": \"device\"", d.ToJson());
        Assert.Contains("\"barriers\": \"system\"", d.ToJson());

        using var host = PlatformResources.Open(d);
        var region = host.GetRegion("shm");
        Assert.Equal(SharedMemoryType.Device, region.MemoryType);
        Assert.Equal(BarrierDomain.System, region.Barriers);
    }

    [Fact]
    public void Open_FieldsAbsent_BackingDefaultAndInnerShareable()
    {
        var d = PlatformDescription.Parse(Mutate(t => t["resourceTable"] = "none"));
        Assert.Null(d.Regions[0].Memory);
        Assert.Equal(PlatformBarriers.InnerShareable, d.Barriers);
        Assert.DoesNotContain("\"memory\"", d.ToJson());
        using var host = PlatformResources.Open(d);
        Assert.Equal(SharedMemoryType.Normal, host.GetRegion("shm").MemoryType);
        Assert.Equal(BarrierDomain.InnerShareable, host.GetRegion("shm").Barriers);
    }

    [Fact]
    public void Parse_UnknownMemoryType_RejectedNamingThePath() =>
        Reject(t => Region(t, 0)["memory"] = "uncached", "regions[0].memory");

    [Fact]
    public void Parse_UnknownBarriers_RejectedNamingThePath() =>
        Reject(t => t["barriers"] = "outer", "barriers");

    [Fact]
    public void Parse_DevMemDeclaredNormal_RejectedBecauseOSyncMapsItUncached()
    {
        var e = Reject(t =>
        {
            t["regions"]!.AsArray().Add(System.Text.Json.Nodes.JsonNode.Parse(
                """{ "name": "dm", "kind": "devMem", "physicalAddress": "0x70000000", "deviceAddress": "0x100000", "size": "0x1000", "memory": "normal" }"""));
            t["allowedDevMemRanges"] = System.Text.Json.Nodes.JsonNode.Parse("""[{ "start": "0x70000000", "size": "0x1000" }]""");
        }, "regions[1].memory");
        Assert.Contains("O_SYNC", e.Message);
    }
}
