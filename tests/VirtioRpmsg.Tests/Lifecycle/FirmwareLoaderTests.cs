using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Tests.DeviceMemory;

namespace VirtioRpmsg.Tests.Lifecycle;

public class FirmwareLoaderTests
{
    private const byte Poison = 0xEE;

    private static SharedMemoryRegion PoisonedRegion(long size, ulong deviceAddress)
    {
        var region = SharedMemoryRegion.CreateAnonymous(size, deviceAddress);
        using var lease = region.Acquire();
        lease.Fill(0, size, Poison);
        return region;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Load_IntoRegion_CopiesFileBytesAndZeroFillsRest(bool is64)
    {
        using var region = PoisonedRegion(0x4000, TestFirmware.CodeAddress);
        var image = ElfImage.Parse(TestFirmware.Build(is64).Bytes);

        var loaded = FirmwareLoader.Load(image, new AddressMap().Add(region));

        Assert.Equal(2, loaded.Count);
        Assert.Equal(0L, loaded[0].RegionOffset);
        Assert.Equal(0x1000L, loaded[1].RegionOffset);
        using var lease = region.Acquire();
        Assert.Equal(TestFirmware.Code, SharedBytes.Read(lease, 0, 256));
        Assert.True(SharedBytes.Read(lease, 256, 0x400 - 256).AsSpan().IndexOfAnyExcept((byte)0) < 0, "p_memsz - p_filesz must be zero-filled");
        // Bytes past p_memsz are not touched.
        Assert.Equal(Poison, lease.ReadByte(0x400));
        Assert.Equal(Poison, lease.ReadByte(0xFFF));
        Assert.Equal(ResourceTableBuilder.BuildOpenAmpLinux(), SharedBytes.Read(lease, 0x1000, 88));
        Assert.Equal(Poison, lease.ReadByte(0x1000 + 88));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LocateResourceTable_AfterLoad_ParsesAndWritesInMemory(bool is64)
    {
        using var region = PoisonedRegion(0x4000, TestFirmware.CodeAddress);
        var map = new AddressMap().Add(region);
        var image = ElfImage.Parse(TestFirmware.Build(is64).Bytes);
        FirmwareLoader.Load(image, map);

        var location = FirmwareLoader.LocateResourceTable(image, map)!;

        Assert.Equal(TestFirmware.TableAddress, location.DeviceAddress);
        Assert.Equal(88, location.Length);
        Assert.Same(region, location.Region.Region);
        Assert.True(location.Region.IsCurrent);
        Assert.Equal(0x1000L, location.RegionOffset);
        using var lease = location.Region.Acquire();
        var table = ResourceTable.Read(lease, location.RegionOffset, location.Length);
        var vdev = table.GetRpmsgVdev();
        new ResourceTableWriter(table).WriteStatus(lease, location.RegionOffset, vdev, 0x07);
        Assert.Equal(0x07, lease.ReadByte(location.RegionOffset + vdev.StatusByteOffset));
    }

    [Fact]
    public void LocateResourceTable_NoSection_ReturnsNull()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(0x4000, TestFirmware.CodeAddress);
        var image = ElfImage.Parse(TestFirmware.Build(false, withResourceTable: false).Bytes);
        Assert.Null(FirmwareLoader.LocateResourceTable(image, new AddressMap().Add(region)));
    }

    [Fact]
    public void Load_SegmentOutsideAnyRegion_ThrowsAndWritesNothing()
    {
        // Covers the code segment but not the table segment at +0x1000.
        using var region = PoisonedRegion(0x1000, TestFirmware.CodeAddress);
        var image = ElfImage.Parse(TestFirmware.Build(false).Bytes);

        var ex = Assert.Throws<FirmwareLoadException>(() => FirmwareLoader.Load(image, new AddressMap().Add(region)));

        Assert.Equal("segment 1", ex.What);
        Assert.Equal(TestFirmware.TableAddress, ex.DeviceAddress);
        using var lease = region.Acquire();
        Assert.Equal(Poison, lease.ReadByte(0));
    }

    [Fact]
    public void Load_SegmentStraddlingTwoRegions_Throws()
    {
        // Two adjacent regions split the code segment's memory image at +0x200.
        using var low = SharedMemoryRegion.CreateAnonymous(0x200, TestFirmware.CodeAddress);
        using var high = SharedMemoryRegion.CreateAnonymous(0x4000, TestFirmware.CodeAddress + 0x200);
        var image = ElfImage.Parse(TestFirmware.Build(true).Bytes);

        var ex = Assert.Throws<FirmwareLoadException>(() => FirmwareLoader.Load(image, new AddressMap().Add(low).Add(high)));

        Assert.Equal("segment 0", ex.What);
        Assert.Equal(TestFirmware.CodeMemorySize, ex.Length);
    }

    [Fact]
    public void Load_SegmentLargerThanOneChunk_CopiesAndZeroFillsAll()
    {
        // 1.5 MiB of file data in a 3 MiB segment: crosses the loader's 1 MiB per-lease chunks.
        const int fileSize = 3 << 19, memorySize = 3 << 20;
        var data = new byte[fileSize];
        new Random(7).NextBytes(data);
        data[^1] = 0x5A;
        var image = ElfImage.Parse(new ElfTestBuilder(false).AddSegment(0x2000_0000, data, memorySize).Build().Bytes);
        using var region = PoisonedRegion(4 << 20, 0x2000_0000);

        FirmwareLoader.Load(image, new AddressMap().Add(region));

        using var lease = region.Acquire();
        Assert.True(SharedBytes.Read(lease, 0, fileSize).AsSpan().SequenceEqual(data));
        Assert.True(SharedBytes.Read(lease, fileSize, memorySize - fileSize).AsSpan().IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(Poison, lease.ReadByte(memorySize));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Load_NoLoadableSegment_ThrowsNamingPhnum(bool withEmptySegment)
    {
        // Nothing would be loaded: booting it would run whatever the memory still holds (an earlier firmware).
        var builder = new ElfTestBuilder(false).AddSection(".comment", "not firmware\0"u8.ToArray());
        if (withEmptySegment)
            builder.AddSegment(TestFirmware.CodeAddress, [], 0);
        var image = ElfImage.Parse(builder.Build().Bytes);
        using var region = PoisonedRegion(0x1000, TestFirmware.CodeAddress);

        var ex = Assert.Throws<ElfFormatException>(() => FirmwareLoader.Load(image, new AddressMap().Add(region)));

        Assert.Equal("e_phnum", ex.Field);
        Assert.Equal(withEmptySegment ? 1UL : 0UL, ex.Value);
    }

    [Fact]
    public void LocateResourceTable_NobitsSection_ThrowsNamingShType()
    {
        var built = TestFirmware.Build(false);
        byte[] bytes = built.Copy();
        ElfTestImage.PutU32(bytes, built.Shdr(3) + 4, ElfSection.ShtNobits); // .resource_table becomes SHT_NOBITS
        var image = ElfImage.Parse(bytes);
        using var region = SharedMemoryRegion.CreateAnonymous(0x4000, TestFirmware.CodeAddress);

        var ex = Assert.Throws<ElfFormatException>(() => FirmwareLoader.LocateResourceTable(image, new AddressMap().Add(region)));

        Assert.Equal("sh_type", ex.Field);
        Assert.Equal(3, ex.Index);
        Assert.Equal((ulong)ElfSection.ShtNobits, ex.Value);
    }
}
