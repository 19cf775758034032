using System.Text.Json.Nodes;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.DeviceMemory;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// A carveout whose da is ADDR_ANY asks the host for memory (Linux's rproc_alloc_carveout allocates it and writes
/// da and pa back). The host places it in the resource table's region as it places ADDR_ANY vrings, clear of the
/// table, rings and pools, and writes the address back; one that does not fit is refused naming the entry.
/// </summary>
public sealed class HostCarveoutTests
{
    // Test description: table [0, 0x400), rings at 0x4000 and 0x8000 (0x2806 bytes each), pool [0x10000, 0x50000), region 0x80000.
    private static byte[] Table(Action<ResourceTableBuilder> before, Action<ResourceTableBuilder>? after = null, uint vringAddress0 = 0x4000, uint vringAddress1 = 0x8000)
    {
        var builder = new ResourceTableBuilder();
        before(builder);
        builder.AddVdev(RpmsgFeatures.VirtioDeviceId, 0, RpmsgFeatures.NameService, 0, 0,
            [new VringSpec(vringAddress0, 0x1000, 256, 0, 0), new VringSpec(vringAddress1, 0x1000, 256, 1, 0)]);
        after?.Invoke(builder);
        return builder.Build();
    }

    private static PlatformResources Open(Action<JsonObject>? change = null) => PlatformResources.Open(
        PlatformDescription.Parse(PlatformTestJson.Mutate(change ?? (_ => { }))), new PlatformOpenOptions { ReadResourceTable = false });

    private static void WriteTable(PlatformResources platform, byte[] table)
    {
        using var lease = platform.ResourceTableRegion!.Acquire();
        lease.WriteBytes(0, table);
    }

    private static ResourceTable LiveTable(PlatformResources platform)
    {
        using var lease = platform.ResourceTableRegion!.Acquire();
        return ResourceTable.Parse(SharedBytes.Read(lease, 0, platform.ResourceTableSize));
    }

    [Fact]
    public void LoadResourceTable_AddrAnyCarveout_AllocatedClearOfTableRingsAndPoolAndWrittenBack()
    {
        using var platform = Open();
        WriteTable(platform, Table(b => b.AddCarveout(ResourceTable.AddrAny, ResourceTable.AddrAny, 0x8000, 0, "heap"),
            b => b.AddCarveout(ResourceTable.AddrAny, ResourceTable.AddrAny, 0x1000, 0, "small")));

        platform.LoadResourceTable();

        var carveouts = LiveTable(platform).Carveouts.ToArray();
        // 0x8000 bytes fit nowhere before the pool; the 0x1000-byte one fits between the table and vring 0.
        Assert.Equal((0x50000u, 0x50000u), (carveouts[0].DeviceAddress, carveouts[0].PhysicalAddress));
        Assert.Equal((0x1000u, 0x1000u), (carveouts[1].DeviceAddress, carveouts[1].PhysicalAddress));
    }

    [Fact]
    public void LoadResourceTable_AddrAnyCarveout_ParsedTableShowsTheAllocatedAddress()
    {
        using var platform = Open();
        WriteTable(platform, Table(b => b.AddCarveout(ResourceTable.AddrAny, ResourceTable.AddrAny, 0x1000, 0, "small"),
            b => b.AddCarveout(0x70000, 0x70000, 0x1000, 0, "fixed")));

        var returned = platform.LoadResourceTable();

        Assert.Same(returned, platform.ResourceTable);
        var live = LiveTable(platform).Carveouts.Select(c => (c.Name, c.DeviceAddress, c.PhysicalAddress)).ToArray();
        var parsed = returned.Carveouts.Select(c => (c.Name, c.DeviceAddress, c.PhysicalAddress)).ToArray();
        Assert.Equal([("small", 0x1000u, 0x1000u), ("fixed", 0x70000u, 0x70000u)], parsed);
        Assert.Equal(live, parsed);
        // The vdev entries handed out belong to that table: a writer over it accepts them.
        using var lease = platform.ResourceTableRegion!.Acquire();
        new ResourceTableWriter(returned).SetGuestFeatures(lease, platform.ResourceTableOffset, platform.RpmsgVdev!, RpmsgFeatures.NameService);
        Assert.Same(returned.GetRpmsgVdev(), platform.RpmsgVdev);
    }

    [Fact]
    public void LoadResourceTable_AddrAnyCarveoutTooLarge_RefusedNamingTheEntry()
    {
        using var platform = Open();
        WriteTable(platform, Table(b => b.AddCarveout(ResourceTable.AddrAny, ResourceTable.AddrAny, 0x100000, 0, "huge")));

        var e = Assert.Throws<ResourceTableException>(platform.LoadResourceTable);

        Assert.Equal("carveout.da", e.Field);
        Assert.Equal(0, e.EntryIndex);
        Assert.Equal((ulong)ResourceTable.AddrAny, e.Value);
        Assert.Contains("'huge'", e.Message);
        Assert.Contains("0x100000", e.Message);
    }

    [Fact]
    public void LoadResourceTable_AddrAnyCarveoutWithoutLength_RefusedNamingTheEntry()
    {
        using var platform = Open();
        WriteTable(platform, Table(b => b.AddCarveout(ResourceTable.AddrAny, ResourceTable.AddrAny, 0, 0, "empty")));

        var e = Assert.Throws<ResourceTableException>(platform.LoadResourceTable);

        Assert.Equal(("carveout.len", 0), (e.Field, e.EntryIndex));
        Assert.Contains("'empty'", e.Message);
    }

    [Fact]
    public void LoadResourceTable_AddrAnyRing_KeepsClearOfTheFirmwaresFixedCarveout()
    {
        // No described ring addresses: the host picks the lowest free range, which the firmware's carveout holds.
        using var platform = Open(t =>
        {
            var vdev = t["vdev"]!.AsObject();
            vdev.Remove("vring0Address");
            vdev.Remove("vring1Address");
        });
        WriteTable(platform, Table(b => b.AddCarveout(0x1000, 0x1000, 0x4000, 0, "fw-data"),
            vringAddress0: ResourceTable.AddrAny, vringAddress1: ResourceTable.AddrAny));

        platform.LoadResourceTable();

        Assert.Equal((0x5000UL, 0x8000UL), (platform.Vdevs[0].Vring0Address, platform.Vdevs[0].Vring1Address));
    }
}
