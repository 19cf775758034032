using VirtioRpmsg.Lifecycle;

namespace VirtioRpmsg.Tests.Lifecycle;

public class PlatformResourcesRemapTests
{
    [Fact]
    public void Memory_AfterRemap_IsRebuiltAtTheNewGenerationAndTheOldMapIsStale()
    {
        var description = PlatformDescription.Parse(PlatformTestJson.Valid) with
        {
            Regions = [new RegionDescription { Name = "shm", Kind = PlatformRegionKind.Memfd, DeviceAddress = 0x1000_0000, Size = 0x80000 }],
            ResourceTable = null,
            Vdev = new VdevLayoutDescription { Vring0Address = 0x1000_4000, Vring1Address = 0x1000_8000, BufferPoolAddress = 0x1001_0000 },
        };
        using var resources = PlatformResources.Open(description);
        var before = resources.Memory;
        Assert.Same(before, resources.Memory);
        var region = resources.Regions[0];

        region.Unmap();
        region.Remap();

        Assert.True(before.IsStale);
        var after = resources.Memory;
        Assert.NotSame(before, after);
        Assert.False(after.IsStale);
        Assert.Same(after, resources.Memory);
        Assert.Equal(region.Generation, Assert.Single(after.Regions).Generation);
        Assert.True(resources.CreateRpmsgLayout().Memory.Regions[0].IsCurrent);
    }
}
