using System.Buffers.Binary;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Tests.Platform;

namespace VirtioRpmsg.Tests.Lifecycle;

public class PlatformResourcesTests : IDisposable
{
    private readonly string _shm = PlatformTestJson.ShmPath();

    public void Dispose() => PlatformTestJson.Delete(_shm);

    /// <summary>The OpenAMP machine on a test file, with a polling doorbell.</summary>
    private PlatformDescription OnFile(PlatformRole role) => PlatformDescription.OpenAmpLinux(role) with
    {
        Regions = [PlatformDescription.OpenAmpLinux(role).Regions[0] with { Path = _shm }],
    };

    private static PlatformDescription WithVrings(PlatformDescription d, ulong? vring0, ulong? vring1) =>
        d with { Vdev = d.Vdev with { Vring0Address = vring0, Vring1Address = vring1 } };

    internal static PlatformDescription Anonymous(PlatformRegionKind kind = PlatformRegionKind.Anonymous) =>
        PlatformDescription.Parse(PlatformTestJson.Valid) with
        {
            Regions = [new RegionDescription { Name = "shm", Kind = kind, DeviceAddress = 0x1000_0000, Size = 0x80000 }],
            ResourceTable = null,
            Vdev = new VdevLayoutDescription { Vring0Address = 0x1000_4000, Vring1Address = 0x1000_8000, BufferPoolAddress = 0x1001_0000 },
        };

    private byte[] FileBytes(int count)
    {
        using var stream = new FileStream(_shm, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var bytes = new byte[count];
        stream.ReadExactly(bytes);
        return bytes;
    }

    private void WriteFile(int offset, byte[] bytes)
    {
        using var stream = new FileStream(_shm, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        stream.Position = offset;
        stream.Write(bytes);
    }

    // ---- open and dispose --------------------------------------------------------------------

    [Fact]
    public void Open_ShmFile_MapsTheFileAndDisposeUnmaps()
    {
        SharedMemoryRegion region;
        using (var remote = PlatformResources.Open(OnFile(PlatformRole.Remote)))
        {
            region = Assert.Single(remote.Memory.Regions).Region;
            Assert.Equal((RegionBacking.SharedMemoryFile, 0UL, 0x80000L), (region.Backing, region.DeviceAddress, region.Size));
            Assert.Same(region, remote.GetRegion("shm"));
            Assert.Equal(0x80000, new FileInfo(_shm).Length);
            Assert.Equal((0x4000UL, 0x8000UL, 256, 0x1000), (remote.Vring0Address, remote.Vring1Address, remote.VringNum, remote.VringAlign));
            Assert.Equal((0x10000UL, 0x40000UL, 512, 512), (remote.BufferPoolAddress, remote.BufferPoolSize, remote.BufferCount, remote.BufferSize));
            Assert.Equal(PlatformWaitStrategy.Interrupt, remote.WaitStrategy);
            Assert.Same(region, remote.ResourceTableRegion);
            Assert.Equal((0L, 0x400), (remote.ResourceTableOffset, remote.ResourceTableSize));
            Assert.Null(remote.ResourceTable);
        }
        Assert.False(region.IsMapped);
    }

    [Theory]
    [InlineData(PlatformRegionKind.Anonymous, RegionBacking.Anonymous)]
    [InlineData(PlatformRegionKind.Memfd, RegionBacking.MemFd)]
    public void Open_ExplicitLayout_TakesTheDescriptionAndDisposeUnmaps(PlatformRegionKind kind, RegionBacking backing)
    {
        SharedMemoryRegion region;
        using (var host = PlatformResources.Open(Anonymous(kind)))
        {
            region = Assert.Single(host.Memory.Regions).Region;
            Assert.Equal((backing, 0x1000_0000UL), (region.Backing, region.DeviceAddress));
            Assert.True(host.IsLayoutResolved);
            Assert.Equal((0x1000_4000UL, 0x1000_8000UL, 256, 4096, 0x1001_0000UL), (host.Vring0Address, host.Vring1Address, host.VringNum, host.VringAlign, host.BufferPoolAddress));
            Assert.Null(host.ResourceTableRegion);
            using var lease = region.Acquire();
            lease.WriteUInt32(0x100, 0xC0FFEE);
            Assert.Equal(0xC0FFEEu, lease.ReadUInt32(0x100));
        }
        Assert.False(region.IsMapped);
    }

    [Fact]
    public void Open_MemfdRemote_ReceivesTheHostsRegion()
    {
        var (hostEnd, remoteEnd) = DescriptorPassing.CreatePair();
        using (hostEnd)
        using (remoteEnd)
        {
            using var host = PlatformResources.Open(Anonymous(PlatformRegionKind.Memfd), new PlatformOpenOptions { Passing = hostEnd });
            using var remote = PlatformResources.Open(Anonymous(PlatformRegionKind.Memfd) with { Role = PlatformRole.Remote },
                new PlatformOpenOptions { Passing = remoteEnd, Timeout = Bounded.Limit });
            using (var lease = host.GetRegion("shm").Acquire())
                lease.WriteUInt32(0x40, 0x5A5A);

            using var remoteLease = remote.GetRegion("shm").Acquire();
            Assert.Equal(0x5A5Au, remoteLease.ReadUInt32(0x40));
        }
    }

    [Fact]
    public void Open_MemfdRemoteWithoutPassing_Throws() =>
        Assert.Throws<InvalidOperationException>(() => PlatformResources.Open(Anonymous(PlatformRegionKind.Memfd) with { Role = PlatformRole.Remote }));

    [Fact]
    public void Open_ShmFileNotCreatedAndMissing_ThrowsNamingTheFile()
    {
        var d = OnFile(PlatformRole.Remote);
        d = d with { Regions = [d.Regions[0] with { Create = false }] };

        var e = Assert.Throws<VirtioRpmsg.Interop.NativeCallException>(() => PlatformResources.Open(d));
        Assert.Equal(2, e.Errno); // ENOENT
        Assert.Contains(_shm, e.Message);
        Assert.False(File.Exists(_shm));
    }

    [Fact]
    public void Open_InvalidDescription_ThrowsBeforeMappingAnything()
    {
        var d = OnFile(PlatformRole.Remote) with { Vdev = OnFile(PlatformRole.Remote).Vdev with { BufferPoolAddress = 0x7F000 } };

        var e = Assert.Throws<PlatformDescriptionException>(() => PlatformResources.Open(d));

        Assert.Equal("vdev.bufferPoolAddress", e.JsonPath);
        Assert.False(File.Exists(_shm));
    }

    // ---- resource table ----------------------------------------------------------------------

    [Fact]
    public void WriteResourceTable_OpenAmpRemote_WritesExactlyTheWireFormatTable()
    {
        using var remote = PlatformResources.Open(OnFile(PlatformRole.Remote));

        remote.WriteResourceTable();

        byte[] written = FileBytes(88);
        Assert.Equal(ResourceTableBuilder.BuildOpenAmpLinux(), written);
        var table = ResourceTable.Parse(written);
        var vdev = table.GetRpmsgVdev();
        Assert.Equal(20, vdev.Offset);
        Assert.Equal((RpmsgFeatures.VirtioDeviceId, 1u, 0u), (vdev.Id, vdev.DeviceFeatures, vdev.NotifyId));
        Assert.Equal((48, 0x4000u, 0x1000u, 256u, 1u), (vdev.Vrings[0].Offset, vdev.Vrings[0].DeviceAddress, vdev.Vrings[0].Align, vdev.Vrings[0].Num, vdev.Vrings[0].NotifyId));
        Assert.Equal((68, 0x8000u, 0x1000u, 256u, 2u), (vdev.Vrings[1].Offset, vdev.Vrings[1].DeviceAddress, vdev.Vrings[1].Align, vdev.Vrings[1].Num, vdev.Vrings[1].NotifyId));
        Assert.Equal(20, remote.RpmsgVdev!.Offset);
    }

    [Fact]
    public void Open_HostAfterRemoteWroteTable_ReadsTheLayoutFromIt()
    {
        using var remote = PlatformResources.Open(OnFile(PlatformRole.Remote));
        remote.WriteResourceTable();

        // The host's description leaves the vrings to the table.
        var described = OnFile(PlatformRole.Host);
        using var host = PlatformResources.Open(described with
        {
            Vdev = described.Vdev with { Vring0Address = null, Vring1Address = null, VringNum = null, VringAlign = null },
        });

        var vdev = host.RpmsgVdev!;
        Assert.Equal((20, 48, 68), (vdev.Offset, vdev.Vrings[0].Offset, vdev.Vrings[1].Offset));
        Assert.Equal((0x4000UL, 0x8000UL, 256, 0x1000), (host.Vring0Address, host.Vring1Address, host.VringNum, host.VringAlign));
        Assert.Equal(1u, vdev.DeviceFeatures);
        Assert.Equal(0x10000UL, host.BufferPoolAddress);
        Assert.NotSame(remote.GetRegion("shm"), host.GetRegion("shm"));
    }

    [Fact]
    public void Open_HostWithUnwrittenTable_ThrowsResourceTableException()
    {
        var e = Assert.Throws<ResourceTableException>(() => PlatformResources.Open(OnFile(PlatformRole.Host)));

        Assert.Equal("ver", e.Field);
    }

    [Fact]
    public void LoadResourceTable_Deferred_LayoutUnavailableUntilLoaded()
    {
        using var host = PlatformResources.Open(OnFile(PlatformRole.Host), new PlatformOpenOptions { ReadResourceTable = false });
        Assert.False(host.IsLayoutResolved);
        Assert.Throws<InvalidOperationException>(() => host.Vring0Address);
        using var remote = PlatformResources.Open(OnFile(PlatformRole.Remote));
        remote.WriteResourceTable();

        host.LoadResourceTable();

        Assert.True(host.IsLayoutResolved);
        Assert.Equal(0x4000UL, host.Vring0Address);
    }

    [Fact]
    public void Open_HostDescriptionContradictsTable_ThrowsNamingTheField()
    {
        using var remote = PlatformResources.Open(OnFile(PlatformRole.Remote));
        remote.WriteResourceTable();
        var host = OnFile(PlatformRole.Host);

        var e = Assert.Throws<PlatformDescriptionException>(() => PlatformResources.Open(host with { Vdev = host.Vdev with { VringNum = 128, BufferCount = 256 } }));

        Assert.Equal("vdev.vringNum", e.JsonPath);
        Assert.Contains("256", e.Message);
    }

    /// <summary>A remote's hand-made table with the given vring addresses, opened by a host that leaves the vrings to it.</summary>
    private ResourceTableException OpenHostOverTable(uint vring0, uint vring1, uint vring1Num = 256, uint align = 0x1000)
    {
        // Creates and sizes the file.
        using (PlatformResources.Open(OnFile(PlatformRole.Remote)))
        {
        }
        WriteFile(0, new ResourceTableBuilder()
            .AddVdev(RpmsgFeatures.VirtioDeviceId, 0, 1, 0, 0, [new VringSpec(vring0, align, 256, 1, 0), new VringSpec(vring1, align, vring1Num, 2, 0)])
            .Build());
        var host = WithVrings(OnFile(PlatformRole.Host), null, null);
        host = host with { Vdev = host.Vdev with { VringAlign = null } }; // the table's align, whatever it is
        return Assert.Throws<ResourceTableException>(() => PlatformResources.Open(host));
    }

    [Fact]
    public void Open_TableVringOutsideMemory_ThrowsResourceTableException()
    {
        var e = OpenHostOverTable(0x7F000, 0x8000);

        Assert.Equal("vring[0].da", e.Field);
        Assert.Equal(0x7F000UL, e.Value);
    }

    [Fact]
    public void Open_TableVringOnItsAlignButNotTheDescriptorTables_ThrowsResourceTableException()
    {
        // align 4 is legal, but a ring starts on 16 bytes at least (its descriptor table): refused at the table, not
        // later as the device starts.
        var e = OpenHostOverTable(0x4004, 0x8000, align: 4);

        Assert.Equal("vring[0].da", e.Field);
        Assert.Equal(0x4004UL, e.Value);
        Assert.Contains("aligned to 0x10", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_TableVringOverlappingThePool_ThrowsResourceTableException()
    {
        var e = OpenHostOverTable(0x4000, 0x20000);

        Assert.Equal("vring[1].da", e.Field);
        Assert.Contains("buffer pool", e.Message);
    }

    [Fact]
    public void Open_TableVringsOfDifferentSizes_ThrowsResourceTableException()
    {
        var e = OpenHostOverTable(0x4000, 0x8000, vring1Num: 128);

        Assert.Equal("vring[1].num", e.Field);
    }

    [Fact]
    public void WriteResourceTable_Host_Throws()
    {
        using var remote = PlatformResources.Open(OnFile(PlatformRole.Remote));
        remote.WriteResourceTable();
        using var host = PlatformResources.Open(OnFile(PlatformRole.Host));

        Assert.Throws<InvalidOperationException>(() => host.WriteResourceTable());
    }

    [Fact]
    public void WriteResourceTable_NoTableInDescription_Throws()
    {
        using var remote = PlatformResources.Open(Anonymous() with { Role = PlatformRole.Remote });

        Assert.Throws<InvalidOperationException>(() => remote.WriteResourceTable());
    }

    // ---- ADDR_ANY ----------------------------------------------------------------------------

    [Fact]
    public void Open_HostWithAddrAnyVrings_ChoosesFreeAlignedAddressesAndWritesThemBack()
    {
        using var remote = PlatformResources.Open(WithVrings(OnFile(PlatformRole.Remote), ResourceTable.AddrAny, ResourceTable.AddrAny));
        remote.WriteResourceTable();
        Assert.True(remote.RpmsgVdev!.Vrings[0].NeedsAddress);
        Assert.False(remote.IsLayoutResolved);

        using var host = PlatformResources.Open(WithVrings(OnFile(PlatformRole.Host), null, null));

        // The table window is [0, 0x400) and the pool [0x10000, 0x50000): the first free 4 KiB-aligned
        // 0x2806-byte ranges are 0x1000 and 0x4000.
        Assert.Equal((0x1000UL, 0x4000UL), (host.Vring0Address, host.Vring1Address));
        var written = ResourceTable.Parse(FileBytes(88)).GetRpmsgVdev();
        Assert.Equal((0x1000u, 0x1000u), (written.Vrings[0].DeviceAddress, written.Vrings[0].PhysicalAddress));
        Assert.Equal((0x4000u, 0x4000u), (written.Vrings[1].DeviceAddress, written.Vrings[1].PhysicalAddress));

        remote.LoadResourceTable();
        Assert.Equal((0x1000UL, 0x4000UL), (remote.Vring0Address, remote.Vring1Address));
    }

    [Fact]
    public void Open_HostWithAddrAnyAndAnAddressInItsDescription_WritesThatAddress()
    {
        using var remote = PlatformResources.Open(WithVrings(OnFile(PlatformRole.Remote), ResourceTable.AddrAny, 0x8000));
        remote.WriteResourceTable();

        using var host = PlatformResources.Open(WithVrings(OnFile(PlatformRole.Host), 0x60000, null));

        Assert.Equal((0x60000UL, 0x8000UL), (host.Vring0Address, host.Vring1Address));
        Assert.Equal(0x60000u, ResourceTable.Parse(FileBytes(88)).GetRpmsgVdev().Vrings[0].DeviceAddress);
    }

    [Fact]
    public void Open_HostWithAddrAnyAndNoRoomInTheVringRegion_ThrowsNamingTheRegion()
    {
        using var remote = PlatformResources.Open(WithVrings(OnFile(PlatformRole.Remote), ResourceTable.AddrAny, 0x8000));
        remote.WriteResourceTable();
        var host = WithVrings(OnFile(PlatformRole.Host), null, null);
        host = host with
        {
            Regions = [host.Regions[0], new RegionDescription { Name = "tiny", Kind = PlatformRegionKind.Anonymous, DeviceAddress = 0x100000, Size = 0x2000 }],
            Vdev = host.Vdev with { VringRegion = "tiny" },
        };

        var e = Assert.Throws<PlatformDescriptionException>(() => PlatformResources.Open(host));

        Assert.Equal("vdev.vringRegion", e.JsonPath);
        Assert.Equal(ResourceTable.AddrAny, ResourceTable.Parse(FileBytes(88)).GetRpmsgVdev().Vrings[0].DeviceAddress);
    }

    [Fact]
    public void LoadResourceTable_RemoteBeforeHostChose_ThrowsNamingTheVring()
    {
        using var remote = PlatformResources.Open(WithVrings(OnFile(PlatformRole.Remote), ResourceTable.AddrAny, 0x8000));
        remote.WriteResourceTable();

        var e = Assert.Throws<ResourceTableException>(() => remote.LoadResourceTable());

        Assert.Equal("vring[0].da", e.Field);
        Assert.Throws<InvalidOperationException>(() => remote.Vring0Address);
    }

    // ---- uio regions -------------------------------------------------------------------------

    [Fact]
    public void Open_UioRegion_MapsTheMapFromSysfs()
    {
        string root = Path.Combine(Path.GetTempPath(), "vrpmsg-test-uio-" + Guid.NewGuid().ToString("N"));
        try
        {
            string map = Path.Combine(root, "sys", "uio0", "maps", "map0");
            Directory.CreateDirectory(map);
            File.WriteAllText(Path.Combine(root, "sys", "uio0", "name"), "rpmsg-shm\n");
            File.WriteAllText(Path.Combine(map, "addr"), "0x3ed00000\n");
            File.WriteAllText(Path.Combine(map, "size"), "0x80000\n");
            File.WriteAllText(Path.Combine(map, "offset"), "0x0\n");
            // A plain file stands in for /dev/uio0: map 0 is at file offset 0.
            string device = Path.Combine(root, "uio0");
            File.WriteAllBytes(device, new byte[0x80000]);
            var d = Anonymous() with
            {
                Regions = [new RegionDescription { Name = "shm", Kind = PlatformRegionKind.Uio, Device = device, SysfsRoot = Path.Combine(root, "sys") }],
                Vdev = new VdevLayoutDescription { Vring0Address = 0x3ed04000, Vring1Address = 0x3ed08000, BufferPoolAddress = 0x3ed10000 },
            };

            using (var resources = PlatformResources.Open(d))
            {
                var region = Assert.Single(resources.Memory.Regions).Region;
                Assert.Equal((RegionBacking.Uio, 0x3ed00000UL, 0x80000L), (region.Backing, region.DeviceAddress, region.Size));
                Assert.Equal(0x3ed04000UL, resources.Vring0Address);
            }

            var wrongSize = d with { Regions = [d.Regions[0] with { Size = 0x100000 }] };
            var e = Assert.Throws<PlatformDescriptionException>(() => PlatformResources.Open(wrongSize));
            Assert.Equal("regions[0].size", e.JsonPath);

            var outside = d with { Vdev = d.Vdev with { BufferPoolAddress = 0x3ed70000 } };
            e = Assert.Throws<PlatformDescriptionException>(() => PlatformResources.Open(outside));
            Assert.Equal("vdev.bufferPoolAddress", e.JsonPath);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
