using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.Memory;

/// <summary>
/// Every bad-input way of opening a region, each asserting the specific exception and that its
/// message names the path and the value. Shared by the bad-input tests (is the error right?) and the
/// leak tests (does the failing path close every descriptor and mapping it made?).
/// </summary>
public static class FailingOpens
{
    private const int ENOENT = 2;
    private const int EISDIR = 21;

    public static readonly IReadOnlyDictionary<string, Action<TestFiles>> Cases = new Dictionary<string, Action<TestFiles>>
    {
        ["file-missing"] = files =>
        {
            string path = files.PathOf("missing");
            var e = Assert.Throws<NativeCallException>(() => SharedMemoryRegion.OpenFile(path));
            Assert.Equal((ENOENT, path), (e.Errno, e.Subject));
            AssertMentions(e, path);
        },
        ["file-is-directory"] = files =>
        {
            var e = Assert.Throws<NativeCallException>(() => SharedMemoryRegion.OpenFile(files.Directory));
            Assert.Equal(EISDIR, e.Errno);
            AssertMentions(e, files.Directory);
        },
        ["file-too-small"] = files =>
        {
            string path = files.CreateFile("small", 100);
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => SharedMemoryRegion.OpenFile(path, size: 4096));
            Assert.Equal(4096L, e.ActualValue);
            AssertMentions(e, path, "100 bytes", "4096");
        },
        ["file-offset-negative"] = files =>
        {
            string path = files.CreateFile("page", 4096);
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => SharedMemoryRegion.OpenFile(path, fileOffset: -1));
            Assert.Equal(("fileOffset", (object?)(-1L)), (e.ParamName, e.ActualValue));
            AssertMentions(e, path);
        },
        ["file-offset-past-end"] = files =>
        {
            string path = files.CreateFile("page", 4096);
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => SharedMemoryRegion.OpenFile(path, fileOffset: 8192));
            Assert.Equal(-4096L, e.ActualValue);
            AssertMentions(e, path);
        },
        ["create-file-size-zero"] = files =>
        {
            string path = files.ShmPath();
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => SharedMemoryRegion.CreateFile(path, 0));
            Assert.Equal(0L, e.ActualValue);
            AssertMentions(e, path);
            Assert.False(File.Exists(path), "a rejected size must not create the file");
        },
        ["create-file-address-overflow"] = files =>
        {
            string path = files.ShmPath();
            var e = Assert.Throws<AddressRangeException>(() => SharedMemoryRegion.CreateFile(path, 4096, deviceAddress: ulong.MaxValue));
            Assert.Equal((ulong.MaxValue, 4096UL), (e.Address, e.RangeLength));
            AssertMentions(e, path, "0xFFFFFFFFFFFFFFFF");
            Assert.False(File.Exists(path), "a rejected address must not create the file");
        },
        ["memfd-size-negative"] = _ =>
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => SharedMemoryRegion.CreateMemFd("vrpmsg-test", -4096));
            Assert.Equal(-4096L, e.ActualValue);
            AssertMentions(e, "vrpmsg-test");
        },
        ["anonymous-size-zero"] = _ =>
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => SharedMemoryRegion.CreateAnonymous(0));
            Assert.Equal(0L, e.ActualValue);
        },
        ["anonymous-address-overflow"] = _ =>
        {
            var e = Assert.Throws<AddressRangeException>(() => SharedMemoryRegion.CreateAnonymous(0x2000, deviceAddress: ulong.MaxValue - 0xFFF));
            Assert.Equal((ulong.MaxValue - 0xFFF, 0x2000UL), (e.Address, e.RangeLength));
            AssertMentions(e, "0xFFFFFFFFFFFFF000", "0x2000");
        },
        ["devmem-missing"] = files =>
        {
            string path = files.PathOf("no-dev-mem");
            var e = Assert.Throws<NativeCallException>(() => SharedMemoryRegion.OpenDevMem(0x1000, 4096, devMemPath: path));
            Assert.Equal((ENOENT, path), (e.Errno, e.Subject));
            AssertMentions(e, path);
        },
        ["devmem-is-directory"] = files =>
        {
            var e = Assert.Throws<NativeCallException>(() => SharedMemoryRegion.OpenDevMem(0x1000, 4096, devMemPath: files.Directory));
            Assert.Equal(EISDIR, e.Errno);
            AssertMentions(e, files.Directory);
        },
        ["devmem-not-mappable"] = _ =>
        {
            // /dev/null opens read-write but has no mmap: the failure comes from mmap itself.
            var e = Assert.Throws<NativeCallException>(() => SharedMemoryRegion.OpenDevMem(0, 4096, devMemPath: "/dev/null"));
            Assert.Equal("mmap", e.Operation);
            AssertMentions(e, "/dev/null@0x0");
        },
        ["devmem-not-mappable-guarded"] = _ =>
        {
            // Same, after the guard reservation is made: the reservation must be released too.
            var e = Assert.Throws<NativeCallException>(() => SharedMemoryRegion.OpenDevMem(0, 4096, devMemPath: "/dev/null", guardPages: true));
            Assert.Equal("mmap", e.Operation);
            AssertMentions(e, "/dev/null@0x0");
        },
        ["devmem-beyond-file-offsets"] = files =>
        {
            string path = files.CreateFile("fake-mem", 4096);
            var e = Assert.Throws<AddressRangeException>(() => SharedMemoryRegion.OpenDevMem(0x7FFF_FFFF_FFFF_F000, 0x2000, devMemPath: path));
            Assert.Equal(0x7FFF_FFFF_FFFF_F000UL, e.Address);
            AssertMentions(e, path, "0x7FFFFFFFFFFFF000");
        },
        ["uio-device-missing"] = files =>
        {
            var uio = new FakeUioDevice(files, 4096);
            var e = Assert.Throws<DirectoryNotFoundException>(() => SharedMemoryRegion.OpenUio("uio7", 0, uio.Root, uio.DevicePath));
            AssertMentions(e, "uio7", Path.Combine(uio.Root, "uio7"));
        },
        ["uio-map-missing"] = files =>
        {
            var uio = new FakeUioDevice(files, 4096);
            var e = Assert.Throws<DirectoryNotFoundException>(() => SharedMemoryRegion.OpenUio(FakeUioDevice.Name, 3, uio.Root, uio.DevicePath));
            AssertMentions(e, "map 3", uio.MapDirectory(3));
        },
        ["uio-addr-malformed"] = files =>
        {
            var uio = new FakeUioDevice(files, 4096);
            string dir = uio.AddMap(0, "0xZZ00", "0x1000", "0x0");
            var e = Assert.Throws<FormatException>(() => SharedMemoryRegion.OpenUio(FakeUioDevice.Name, 0, uio.Root, uio.DevicePath));
            AssertMentions(e, Path.Combine(dir, "addr"), "0xZZ00");
        },
        ["uio-addr-file-missing"] = files =>
        {
            var uio = new FakeUioDevice(files, 4096);
            string dir = uio.AddMap(0, null, "0x1000", "0x0");
            var e = Assert.Throws<FileNotFoundException>(() => SharedMemoryRegion.OpenUio(FakeUioDevice.Name, 0, uio.Root, uio.DevicePath));
            AssertMentions(e, Path.Combine(dir, "addr"));
        },
        ["uio-size-zero"] = files =>
        {
            var uio = new FakeUioDevice(files, 4096);
            string dir = uio.AddMap(0, "0x40000000", "0x0", "0x0");
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => SharedMemoryRegion.OpenUio(FakeUioDevice.Name, 0, uio.Root, uio.DevicePath));
            AssertMentions(e, dir + "/size", "0x0");
        },
        ["uio-offset-not-in-page"] = files =>
        {
            var uio = new FakeUioDevice(files, 4096);
            string dir = uio.AddMap(0, "0x40000000", "0x2000", "0x" + FakeUioDevice.PageSize.ToString("X"));
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => SharedMemoryRegion.OpenUio(FakeUioDevice.Name, 0, uio.Root, uio.DevicePath));
            AssertMentions(e, dir + "/offset");
        },
        ["uio-offset-past-end"] = files =>
        {
            var uio = new FakeUioDevice(files, 4096);
            string dir = uio.AddMap(0, "0x40000000", "0x100", "0x200");
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => SharedMemoryRegion.OpenUio(FakeUioDevice.Name, 0, uio.Root, uio.DevicePath));
            AssertMentions(e, dir + "/offset", "0x200", "0x40000200");
        },
        ["uio-map-overflow"] = files =>
        {
            var uio = new FakeUioDevice(files, 4096);
            string dir = uio.AddMap(0, "0xFFFFFFFFFFFFF000", "0x2000", "0x0");
            var e = Assert.Throws<AddressRangeException>(() => SharedMemoryRegion.OpenUio(FakeUioDevice.Name, 0, uio.Root, uio.DevicePath));
            AssertMentions(e, dir, "0xFFFFFFFFFFFFF000");
        },
        ["uio-node-missing"] = files =>
        {
            var uio = new FakeUioDevice(files, 4096);
            uio.AddMap(0, "0x40000000", "0x1000", "0x0");
            string node = files.PathOf("no-such-uio0");
            var e = Assert.Throws<NativeCallException>(() => SharedMemoryRegion.OpenUio(FakeUioDevice.Name, 0, uio.Root, node));
            Assert.Equal((ENOENT, node), (e.Errno, e.Subject));
        },
    };

    public static TheoryData<string> Names => new(Cases.Keys);

    private static void AssertMentions(Exception e, params string[] parts)
    {
        foreach (var part in parts)
            Assert.Contains(part, e.Message, StringComparison.Ordinal);
    }
}
