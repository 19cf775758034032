using System.Text.Json.Nodes;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.DeviceMemory;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// The host numbers the vrings as Linux's remoteproc does (rproc_alloc_vring: idr_alloc from 0 on one per-processor
/// allocator, every vring of every vdev in table order) and writes each id into the vring's notifyid field, whatever
/// the firmware put there; the vdev's own notifyid is left alone ("TODO: assign a notifyid for rvdev updates as
/// well"). The mailbox words that name the kicked vring (imx_rproc: id &lt;&lt; 16, TI: the id) follow those ids.
/// </summary>
public sealed class HostNotifyIdTests
{
    private const uint ConsoleVirtioId = 3;

    // A one-vring virtio console first (Linux numbers its vring too), then the rpmsg vdev at the description's rings,
    // with ids the firmware chose: vdev 7, vrings 5 and 6.
    private static byte[] ConsoleThenRpmsg(uint ring0Id = 5, uint ring1Id = 6) => new ResourceTableBuilder()
        .AddVdev(ConsoleVirtioId, notifyId: 9, deviceFeatures: 0, guestFeatures: 0, status: 0, [new VringSpec(0x70000, 0x1000, 16, 4, 0)])
        .AddVdev(RpmsgFeatures.VirtioDeviceId, notifyId: 7, deviceFeatures: RpmsgFeatures.NameService, guestFeatures: 0, status: 0,
            [new VringSpec(0x4000, 0x1000, 256, ring0Id, 0), new VringSpec(0x8000, 0x1000, 256, ring1Id, 0)])
        .Build();

    private static PlatformResources Open(string? mailbox = null)
    {
        string json = mailbox is null ? PlatformTestJson.Valid : PlatformTestJson.Mutate(t =>
        {
            t["regions"]!.AsArray().Add(JsonNode.Parse("""{ "name": "mbox", "kind": "anonymous", "deviceAddress": "0x100000", "size": "0x1000" }"""));
            t["doorbell"] = JsonNode.Parse($$"""{ "kind": "uio", "device": "uio0", "mailbox": {{mailbox}} }""");
        });
        return PlatformResources.Open(PlatformDescription.Parse(json), new PlatformOpenOptions { ReadResourceTable = false });
    }

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
    public void LoadResourceTable_Host_WritesLinuxNotifyIdsInTableOrderAndLeavesTheVdevsOwn()
    {
        using var platform = Open();
        WriteTable(platform, ConsoleThenRpmsg());

        platform.LoadResourceTable();

        var live = LiveTable(platform).Vdevs.ToArray();
        Assert.Equal([0u], live[0].Vrings.Select(r => r.NotifyId));
        Assert.Equal([1u, 2u], live[1].Vrings.Select(r => r.NotifyId));
        Assert.Equal((9u, 7u), (live[0].NotifyId, live[1].NotifyId));
        Assert.Equal([1u, 2u], platform.Vdevs[0].Entry!.Vrings.Select(r => r.NotifyId));
    }

    [Fact]
    public void LoadResourceTable_Host_FirmwareIdsEqual_RenumberedAsLinuxDoes()
    {
        // Linux overwrites whatever the firmware wrote, so equal ids in the firmware's table do not stop a boot.
        using var platform = Open();
        WriteTable(platform, ConsoleThenRpmsg(ring0Id: 4, ring1Id: 4));

        platform.LoadResourceTable();

        Assert.Equal([1u, 2u], LiveTable(platform).Vdevs.Last().Vrings.Select(r => r.NotifyId));
    }

    [Fact]
    public void ImxMu_DefaultWords_FollowTheAssignedIds_EvenForAMailboxMadeBeforeTheTableWasLoaded()
    {
        using var platform = Open("""{ "kind": "imxMu", "region": "mbox", "offset": 0 }""");
        var early = Assert.IsType<ImxMessagingUnit>(PlatformMailboxes.Create(platform, platform.Description.Doorbell.Mailbox!));
        WriteTable(platform, ConsoleThenRpmsg());

        platform.LoadResourceTable();

        var late = Assert.IsType<ImxMessagingUnit>(PlatformMailboxes.Create(platform, platform.Description.Doorbell.Mailbox!));
        Assert.Equal([ImxMessagingUnit.LinuxWord(1), ImxMessagingUnit.LinuxWord(2)], late.VringValues);
        Assert.Equal([ImxMessagingUnit.LinuxWord(1), ImxMessagingUnit.LinuxWord(2)], early.VringValues);
    }

    [Fact]
    public void TiMailbox_DefaultWords_AreTheAssignedIds()
    {
        using var platform = Open("""{ "kind": "tiMailbox", "region": "mbox", "offset": 0, "txChannel": 1, "rxChannel": 0, "user": 0 }""");
        WriteTable(platform, ConsoleThenRpmsg());

        platform.LoadResourceTable();

        var ti = Assert.IsType<TiMailbox>(PlatformMailboxes.Create(platform, platform.Description.Doorbell.Mailbox!));
        Assert.Equal([1u, 2u], ti.VringValues);
        Assert.Equal(2u, ti.RingValue);
    }

    [Fact]
    public void ImxMu_DescribedVringValues_StillOverrideTheAssignedIds()
    {
        using var platform = Open("""{ "kind": "imxMu", "region": "mbox", "offset": 0, "vringValues": ["0x40000", "0x50000"] }""");
        WriteTable(platform, ConsoleThenRpmsg());

        platform.LoadResourceTable();

        var mu = Assert.IsType<ImxMessagingUnit>(PlatformMailboxes.Create(platform, platform.Description.Doorbell.Mailbox!));
        Assert.Equal([0x40000u, 0x50000u], mu.VringValues);
    }

    [Fact]
    public void LoadResourceTable_Remote_TakesTheIdsAsWritten()
    {
        var json = PlatformTestJson.Mutate(t => t["role"] = "remote");
        using var platform = PlatformResources.Open(PlatformDescription.Parse(json));
        WriteTable(platform, ConsoleThenRpmsg());

        platform.LoadResourceTable();

        Assert.Equal([5u, 6u], LiveTable(platform).Vdevs.Last().Vrings.Select(r => r.NotifyId));
    }
}
