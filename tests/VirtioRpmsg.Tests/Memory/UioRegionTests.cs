using System.Buffers.Binary;
using System.Globalization;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.Memory;

public class UioRegionTests
{
    private const ulong MemoryStart = 0x4000_0180;   // the device's first byte: not page-aligned
    private const long MemorySize = 0x1E80;          // up to 0x4000_2000
    private const ulong InPage = 0x180;
    private const int MapIndex = 1;

    public static TheoryData<string, string, bool> Conventions => new()
    {
        // uio_pdrv_genirq: page-aligned addr, size rounded up to whole pages including the offset.
        { "0x40000000", "0x2000", false },
        { "0x40000000", "0x2000", true },
        // Drivers that publish the real (unaligned) start and size.
        { "0x40000180", "0x1e80", false },
    };

    [Theory]
    [MemberData(nameof(Conventions))]
    public void OpenUio_NonZeroInPageOffset_TranslatesAndLandsAtMapPagePlusOffset(string addr, string size, bool guardPages)
    {
        using var files = new TestFiles();
        long page = FakeUioDevice.PageSize;
        var uio = new FakeUioDevice(files, (MapIndex + 1) * page + 0x2000);
        uio.AddMap(MapIndex, addr, size, "0x180");
        long mapStartInFile = MapIndex * page + (long)InPage;
        WriteFile(uio.DevicePath, mapStartInFile + 0x20, 0xA1B2C3D4);

        using var region = SharedMemoryRegion.OpenUio(FakeUioDevice.Name, MapIndex, uio.Root, uio.DevicePath, guardPages);

        Assert.Equal((MemoryStart, MemorySize, RegionBacking.Uio), (region.DeviceAddress, region.Size, region.Backing));
        Assert.Contains(uio.DevicePath + " map 1", region.Name, StringComparison.Ordinal);
        Assert.Equal(0x10, region.Translate(MemoryStart + 0x10, 4));
        Assert.Equal(MemorySize - 1, region.Translate(0x4000_1FFF, 1));
        Assert.False(region.TryTranslate(0x4000_0000, 1, out _), "the bytes before the in-page offset are not the device's");
        Assert.False(region.TryTranslate(0x4000_2000, 1, out _));
        using (var lease = region.Acquire())
        {
            Assert.Equal(0xA1B2C3D4u, lease.ReadUInt32(0x20));
            lease.WriteUInt32(0x10, 0x11223344);
        }
        Assert.Equal(0x11223344u, ReadFile(uio.DevicePath, mapStartInFile + 0x10));
        // The kernel refuses a mapping longer than ceil(((addr % page) + size) / page) pages.
        Assert.Equal(0x2000, MappedLengthOf(uio.DevicePath));
    }

    [Fact]
    public void OpenUio_NoOffsetFile_MapsFromPageStart()
    {
        using var files = new TestFiles();
        long page = FakeUioDevice.PageSize;
        var uio = new FakeUioDevice(files, 2 * page);
        uio.AddMap(0, "0x50000000", "0x" + page.ToString("x", CultureInfo.InvariantCulture), offset: null);
        WriteFile(uio.DevicePath, 8, 0xCAFEF00D);

        using var region = SharedMemoryRegion.OpenUio("/dev/" + FakeUioDevice.Name, 0, uio.Root, uio.DevicePath);

        Assert.Equal((0x5000_0000UL, page), (region.DeviceAddress, region.Size));
        using var lease = region.Acquire();
        Assert.Equal(0xCAFEF00Du, lease.ReadUInt32(8));
    }

    [Fact]
    public void Remap_UioRegion_ReopensDeviceAtSameOffset()
    {
        using var files = new TestFiles();
        long page = FakeUioDevice.PageSize;
        var uio = new FakeUioDevice(files, 3 * page);
        uio.AddMap(2, "0x60000000", "0x1000", "0x40");
        using var region = SharedMemoryRegion.OpenUio(FakeUioDevice.Name, 2, uio.Root, uio.DevicePath);
        region.Unmap();
        WriteFile(uio.DevicePath, 2 * page + 0x40, 0x5EED5EED);

        region.Remap();

        using var lease = region.Acquire();
        Assert.Equal(0x5EED5EEDu, lease.ReadUInt32(0));
    }

    private static void WriteFile(string path, long offset, uint value)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        stream.Position = offset;
        stream.Write(bytes);
    }

    private static uint ReadFile(string path, long offset)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read);
        Span<byte> bytes = stackalloc byte[4];
        stream.Position = offset;
        stream.ReadExactly(bytes);
        return BinaryPrimitives.ReadUInt32LittleEndian(bytes);
    }

    // Length of this process's (single) mapping of the file, from /proc/self/maps.
    private static long MappedLengthOf(string path)
    {
        var line = Assert.Single(File.ReadLines("/proc/self/maps"), l => l.EndsWith(" " + path, StringComparison.Ordinal));
        var range = line[..line.IndexOf(' ')].Split('-');
        return long.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture) - long.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }
}
