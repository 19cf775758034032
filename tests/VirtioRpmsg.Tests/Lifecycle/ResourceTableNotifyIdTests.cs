using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// Notify ids in the table. The ones that name something a kick can mean are the vrings': they must be
/// distinct. The vdev's own notifyid names no vring (Linux never reads it: "TODO: assign a notifyid for
/// rvdev updates"), and the tables of Zephyr's lib/open-amp and STM32Cube's OpenAMP firmware set it to 0
/// next to vring 0's notifyid 0 (VRING0_ID "fixed to 0 for Linux compatibility"): such a table must load.
/// </summary>
public class ResourceTableNotifyIdTests
{
    // Zephyr's resource_table.c: vdev { RSC_VDEV, VIRTIO_ID_RPMSG, 0 (notifyid), features, ... }, vrings VRING0_ID 0 and VRING1_ID 1.
    private static byte[] ZephyrStyleTable() => new ResourceTableBuilder()
        .AddVdev(RpmsgFeatures.VirtioDeviceId, notifyId: 0, deviceFeatures: RpmsgFeatures.NameService, guestFeatures: 0, status: 0,
            [new VringSpec(0x4000, 0x1000, 256, 0, 0), new VringSpec(0x8000, 0x1000, 256, 1, 0)])
        .Build();

    [Fact]
    public void GetRpmsgVdevs_VdevNotifyIdEqualToVring0_Accepted()
    {
        var table = ResourceTable.Parse(ZephyrStyleTable());

        var vdev = Assert.Single(table.GetRpmsgVdevs());

        Assert.Equal([0u, 1u], vdev.Vrings.Select(r => r.NotifyId));
    }

    [Fact]
    public void LoadResourceTable_ZephyrStyleTable_ResolvesLayout()
    {
        using var platform = PlatformResources.Open(PlatformDescription.Parse(PlatformTestJson.Valid), new PlatformOpenOptions { ReadResourceTable = false });
        using (var lease = platform.ResourceTableRegion!.Acquire())
            lease.WriteBytes(0, ZephyrStyleTable());

        platform.LoadResourceTable();

        Assert.Equal((0x4000UL, 0x8000UL, 256), (platform.Vdevs[0].Vring0Address, platform.Vdevs[0].Vring1Address, platform.Vdevs[0].VringNum));
    }

    [Fact]
    public void GetRpmsgVdevs_TwoVringsOfOneVdevWithTheSameNotifyId_Refused()
    {
        var table = ResourceTable.Parse(new ResourceTableBuilder()
            .AddVdev(RpmsgFeatures.VirtioDeviceId, 0, 1, 0, 0, [new VringSpec(0x4000, 4096, 32, 1, 0), new VringSpec(0x8000, 4096, 32, 1, 0)])
            .Build());

        var e = Assert.Throws<ResourceTableException>(() => table.GetRpmsgVdevs());

        Assert.Equal("vring[1].notifyid", e.Field);
        Assert.Equal(1UL, e.Value);
        Assert.Equal(0, e.EntryIndex);
    }

    [Fact]
    public void GetRpmsgVdev_TwoVringsWithTheSameNotifyId_RefusedAsByGetRpmsgVdevs()
    {
        var table = ResourceTable.Parse(new ResourceTableBuilder()
            .AddVdev(RpmsgFeatures.VirtioDeviceId, 0, 1, 0, 0, [new VringSpec(0x4000, 4096, 32, 1, 0), new VringSpec(0x8000, 4096, 32, 1, 0)])
            .Build());

        var e = Assert.Throws<ResourceTableException>(() => table.GetRpmsgVdev());

        Assert.Equal(("vring[1].notifyid", 1UL, 0), (e.Field, e.Value, e.EntryIndex));
    }

    [Fact]
    public void GetRpmsgVdevs_OtherVdevsVringWithAnRpmsgVringsNotifyId_Refused()
    {
        // One notify id space for every vring of every vdev (Linux's per-processor allocator): a console's vring 1
        // beside an rpmsg vring 1 would make a kick ambiguous.
        var table = ResourceTable.Parse(new ResourceTableBuilder()
            .AddVdev(3, 0, 0, 0, 0, [new VringSpec(0x70000, 4096, 32, 1, 0)])
            .AddVdev(RpmsgFeatures.VirtioDeviceId, 0, 1, 0, 0, [new VringSpec(0x4000, 4096, 32, 1, 0), new VringSpec(0x8000, 4096, 32, 2, 0)])
            .Build());

        var e = Assert.Throws<ResourceTableException>(() => table.GetRpmsgVdevs());
        Assert.Equal(("vring[0].notifyid", 1UL, 1), (e.Field, e.Value, e.EntryIndex));
        Assert.Equal("vring[0].notifyid", Assert.Throws<ResourceTableException>(() => table.GetRpmsgVdev()).Field);
    }
}
