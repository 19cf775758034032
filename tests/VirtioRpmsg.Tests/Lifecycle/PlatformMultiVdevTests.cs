using System.Text.Json.Nodes;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>Issue 16 item 2: several rpmsg vdevs per remote in the description, the resource table and the opened platform.</summary>
public sealed class PlatformMultiVdevTests : IDisposable
{
    private readonly string _path = PlatformTestJson.ShmPath();

    public void Dispose() => PlatformTestJson.Delete(_path);

    /// <summary>vdev 1: fixed rings at 0x60000/0x64000, pool at 0x68000 (64 x 256 B); polling doorbell.</summary>
    private static JsonObject SecondVdev(string vring0 = "0x60000", string vring1 = "0x64000", string pool = "0x68000") => new()
    {
        ["vdev"] = new JsonObject
        {
            ["vring0Address"] = vring0, ["vring1Address"] = vring1, ["vringNum"] = 32, ["vringAlign"] = 4096,
            ["bufferPoolAddress"] = pool, ["bufferCount"] = 64, ["bufferSize"] = 256,
        },
        ["doorbell"] = new JsonObject { ["kind"] = "polling" },
    };

    private static string WithSecondVdev(Action<JsonObject>? change = null) => PlatformTestJson.Mutate(t =>
    {
        t["additionalVdevs"] = new JsonArray(SecondVdev());
        change?.Invoke(t);
    });

    [Fact]
    public void Parse_TwoVdevs_EachWithItsOwnLayoutAndDoorbell()
    {
        var d = PlatformDescription.Parse(WithSecondVdev());
        Assert.Equal(2, d.VdevCount);
        Assert.Equal(0x10000ul, d.GetVdev(0).Vdev.BufferPoolAddress);
        Assert.Equal(0x68000ul, d.GetVdev(1).Vdev.BufferPoolAddress);
        Assert.Equal(PlatformDoorbellKind.Polling, d.GetVdev(1).Doorbell.Kind);
        Assert.Equal(2, PlatformDescription.Parse(d.ToJson()).VdevCount);
    }

    [Fact]
    public void Reject_SecondPoolOverlapsFirstVdevsRing_NamesTheFieldAndBothParts()
    {
        var e = PlatformTestJson.RejectJson(WithSecondVdev(t => t["additionalVdevs"]![0]!["vdev"]!["bufferPoolAddress"] = "0x8000"),
            "additionalVdevs[0].vdev.bufferPoolAddress");
        Assert.Equal("0x8000", e.Value);
        Assert.Contains("vdev 0's vring 1", e.Message);
    }

    [Fact]
    public void Reject_SecondVringOverlapsFirstPool()
    {
        var e = PlatformTestJson.RejectJson(WithSecondVdev(t => t["additionalVdevs"]![0]!["vdev"]!["vring0Address"] = "0x20000"),
            "additionalVdevs[0].vdev.vring0Address");
        Assert.Contains("vdev 0's buffer pool", e.Message);
    }

    [Fact]
    public void Reject_RuleOfOneVdevInTheSecond_IsReportedAtItsPath()
    {
        var e = PlatformTestJson.RejectJson(WithSecondVdev(t => t["additionalVdevs"]![0]!["vdev"]!["bufferCount"] = 3), "additionalVdevs[0].vdev.bufferCount");
        Assert.Equal("3", e.Value);
    }

    [Fact]
    public void Reject_TwoVdevsOnOneSocket_EveryVdevNeedsItsOwnDoorbell()
    {
        var e = PlatformTestJson.RejectJson(WithSecondVdev(t =>
        {
            t["doorbell"] = new JsonObject { ["kind"] = "unixSocket", ["path"] = "/tmp/vdev-bell" };
            t["additionalVdevs"]![0]!["doorbell"] = new JsonObject { ["kind"] = "unixSocket", ["path"] = "/tmp/vdev-bell" };
        }), "additionalVdevs[0].doorbell");
        Assert.Contains("vdev 0's doorbell channel", e.Message);
        Assert.Contains("/tmp/vdev-bell", e.Value);
    }

    [Fact]
    public void Reject_SeveralVdevsWithoutAResourceTable()
    {
        var e = PlatformTestJson.RejectJson(WithSecondVdev(t => t["resourceTable"] = "none"), "additionalVdevs");
        Assert.Contains("resource table", e.Message);
    }

    [Fact]
    public void RemoteWritesOneEntryPerVdev_HostResolvesEach_NotifyIdsDistinct_AddrAnyPlacedClearOfEverything()
    {
        var host = Shared(PlatformDescription.Parse(WithSecondVdev(t =>
        {
            // The host chooses vdev 1's rings (the remote says ADDR_ANY).
            var v1 = t["additionalVdevs"]![0]!["vdev"]!.AsObject();
            v1.Remove("vring0Address");
            v1.Remove("vring1Address");
            v1.Remove("vringNum");
            v1.Remove("vringAlign");
        })), _path, PlatformRole.Host);
        var remote = Shared(PlatformDescription.Parse(WithSecondVdev(t =>
        {
            t["additionalVdevs"]![0]!["vdev"]!["vring0Address"] = "ADDR_ANY";
            t["additionalVdevs"]![0]!["vdev"]!["vring1Address"] = "ADDR_ANY";
        })), _path, PlatformRole.Remote);
        using var hostPlatform = PlatformResources.Open(host, new PlatformOpenOptions { ReadResourceTable = false });
        using var remotePlatform = PlatformResources.Open(remote);
        var written = remotePlatform.WriteResourceTable();
        Assert.Equal(2, written.GetRpmsgVdevs().Count);

        hostPlatform.LoadResourceTable();

        Assert.Equal(2, hostPlatform.Vdevs.Count);
        var v0 = hostPlatform.Vdevs[0];
        var v1 = hostPlatform.Vdevs[1];
        Assert.Equal((0x4000ul, 0x8000ul, 256, 0x10000ul), (v0.Vring0Address, v0.Vring1Address, v0.VringNum, v0.BufferPoolAddress));
        Assert.Equal((32, 256, 64, 0x68000ul), (v1.VringNum, v1.BufferSize, v1.BufferCount, v1.BufferPoolAddress));
        // The host numbers the vrings from 0 in table order, as Linux does (the remote wrote 1, 2 and 4, 5); the vdevs' own
        // ids (0 and 3) are left as written, as Linux leaves them.
        Assert.Equal([0u, 0u, 1u, 3u, 2u, 3u],
            hostPlatform.Vdevs.SelectMany(v => new[] { v.Entry!.NotifyId, v.Entry.Vrings[0].NotifyId, v.Entry.Vrings[1].NotifyId }).ToArray());
        var parts = new List<(ulong Start, ulong Length)> { (0, (ulong)hostPlatform.ResourceTableSize) };
        foreach (var v in hostPlatform.Vdevs)
        {
            ulong ring = (ulong)VirtioRpmsg.Virtio.VringLayout.Size(v.VringNum, v.VringAlign);
            parts.Add((v.Vring0Address, ring));
            parts.Add((v.Vring1Address, ring));
            parts.Add((v.BufferPoolAddress, v.BufferPoolSize));
        }
        for (int i = 0; i < parts.Count; i++)
        {
            for (int j = 0; j < i; j++)
                Assert.False(parts[i].Start < parts[j].Start + parts[j].Length && parts[j].Start < parts[i].Start + parts[i].Length, $"part {i} overlaps part {j}");
        }
        // The remote reads back what the host chose for vdev 1.
        remotePlatform.LoadResourceTable();
        Assert.Equal(v1.Vring0Address, remotePlatform.Vdevs[1].Vring0Address);
        Assert.Equal(v1.Vring1Address, remotePlatform.Vdevs[1].Vring1Address);
        Assert.Equal(v1.Vring0Address, hostPlatform.CreateRpmsgLayout(1).Vring0Address);
    }

    [Fact]
    public void HostDescribesTwoVdevs_TableHasOne_RefusedNamingAdditionalVdevs()
    {
        var single = Shared(PlatformDescription.Parse(PlatformTestJson.Valid), _path, PlatformRole.Remote);
        var host = Shared(PlatformDescription.Parse(WithSecondVdev()), _path, PlatformRole.Host);
        using var hostPlatform = PlatformResources.Open(host, new PlatformOpenOptions { ReadResourceTable = false });
        using (var remotePlatform = PlatformResources.Open(single))
            remotePlatform.WriteResourceTable();
        var e = Assert.Throws<PlatformDescriptionException>(() => hostPlatform.LoadResourceTable());
        Assert.Equal("additionalVdevs", e.JsonPath);
        Assert.Contains("1 rpmsg vdev entry", e.Message);
    }

    [Fact]
    public void HostLoadsTable_SecondVdevsRingOnFirstVdevsPool_RefusedNamingTheRingAndEntry()
    {
        var host = Shared(PlatformDescription.Parse(WithSecondVdev(t =>
        {
            var v1 = t["additionalVdevs"]![0]!["vdev"]!.AsObject();
            v1.Remove("vring0Address");
            v1.Remove("vring1Address");
        })), _path, PlatformRole.Host);
        using var hostPlatform = PlatformResources.Open(host, new PlatformOpenOptions { ReadResourceTable = false });
        // A remote's table whose vdev 1 puts vring 0 inside vdev 0's buffer pool.
        byte[] table = new ResourceTableBuilder()
            .AddVdev(RpmsgFeatures.VirtioDeviceId, 0, 1, 0, 0, [new VringSpec(0x4000, 4096, 256, 1, 0), new VringSpec(0x8000, 4096, 256, 2, 0)])
            .AddVdev(RpmsgFeatures.VirtioDeviceId, 3, 1, 0, 0, [new VringSpec(0x20000, 4096, 32, 4, 0), new VringSpec(0x64000, 4096, 32, 5, 0)])
            .Build();
        using (var lease = hostPlatform.ResourceTableRegion!.Acquire())
            lease.WriteBytes(0, table);

        var e = Assert.Throws<ResourceTableException>(() => hostPlatform.LoadResourceTable());

        Assert.Equal("vring[0].da", e.Field);
        Assert.Equal(0x20000ul, e.Value);
        Assert.Equal(1, e.EntryIndex);
        Assert.Contains("vdev 0's buffer pool", e.Message);
    }

    [Fact]
    public void SeveralVdevs_SimulatedRemoteRefused_RemoteProcessorNeedsADoorbellPerVdev()
    {
        var two = Shared(PlatformDescription.Parse(WithSecondVdev()), _path, PlatformRole.Host);
        var one = Shared(PlatformDescription.Parse(PlatformTestJson.Valid), _path, PlatformRole.Host);
        var sim = Assert.Throws<PlatformDescriptionException>(() => new global::VirtioRpmsg.Simulation.InProcessSimulatedControl(two));
        Assert.Equal("additionalVdevs", sim.JsonPath);

        using var platform = PlatformResources.Open(two, new PlatformOpenOptions { ReadResourceTable = false });
        using var control = new global::VirtioRpmsg.Simulation.InProcessSimulatedControl(one);
        // A control that makes one host doorbell cannot serve two vdevs: refused up front, not at boot.
        var e = Assert.Throws<PlatformDescriptionException>(() => new RemoteProcessor(platform, control));
        Assert.Equal("additionalVdevs", e.JsonPath);
        Assert.Contains("IRemoteVdevDoorbellProvider", e.Message);
        var factory = Assert.Throws<PlatformDescriptionException>(() => new RemoteProcessor(platform, control,
            new RemoteProcessorOptions { DoorbellFactory = () => throw new InvalidOperationException("not called") }));
        Assert.Contains("VdevDoorbellFactory", factory.Message);
        // A doorbell per vdev is accepted (RemoteProcessorMultiVdevTests runs such a remote).
        using var accepted = new RemoteProcessor(platform, control, new RemoteProcessorOptions { VdevDoorbellFactory = _ => throw new InvalidOperationException("not called") });
        Assert.Empty(accepted.Devices);
    }

    [Fact]
    public void Table_TwoVdevsWithTheSameNotifyId_Refused()
    {
        var table = ResourceTable.Parse(new ResourceTableBuilder()
            .AddVdev(RpmsgFeatures.VirtioDeviceId, 0, 1, 0, 0, [new VringSpec(0x4000, 4096, 32, 1, 0), new VringSpec(0x8000, 4096, 32, 2, 0)])
            .AddVdev(RpmsgFeatures.VirtioDeviceId, 3, 1, 0, 0, [new VringSpec(0xC000, 4096, 32, 2, 0), new VringSpec(0x10000, 4096, 32, 5, 0)])
            .Build());
        var e = Assert.Throws<ResourceTableException>(() => table.GetRpmsgVdevs());
        Assert.Equal("vring[0].notifyid", e.Field);
        Assert.Equal(2ul, e.Value);
        Assert.Equal(1, e.EntryIndex);
    }

    /// <summary>The description over one shared-memory file both sides map (the host creates it).</summary>
    internal static PlatformDescription Shared(PlatformDescription d, string path, PlatformRole role) => d with
    {
        Role = role,
        Regions = [new RegionDescription { Name = "shm", Kind = PlatformRegionKind.ShmFile, Path = path, Create = true, DeviceAddress = 0, Size = 0x80000 }],
    };
}
