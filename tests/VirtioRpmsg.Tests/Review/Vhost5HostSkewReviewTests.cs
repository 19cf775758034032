using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Tests.Memory;
using VirtioRpmsg.Tests.DeviceMemory;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (vhost5) of the vring's host-mapping skew check. On Device memory every access must be naturally aligned (up
/// to 8 bytes), so the host mapping must agree with the device address modulo 16. On Normal memory only the
/// ordered 16-bit index accesses (ldarh/stlrh on ARM64) need alignment, 2 bytes; plain accesses may be unaligned there.
/// (A vhost-user memory table keeps its own check, mmap_offset a multiple of 16: VhostUserHostileFrontEndTests.)
/// </summary>
public sealed class Vhost5HostSkewReviewTests
{
    private static (VirtqueueDriver, VirtqueueDevice) Pair(Vring vring, AddressMap buffers) =>
        (new VirtqueueDriver("driver", vring, buffers, false), new VirtqueueDevice("device", vring, buffers, false));

    [Theory]
    [InlineData(8L)]
    [InlineData(2L)]
    public void Vring_NormalMemorySkewedByAnEvenAmount_IsPlaced_AndCarriesABuffer(long skew)
    {
        using var file = SharedMemoryRegion.CreateMemFd("skewed-file", 0x4000 + skew);
        NativeCallException.ThrowIfError(Native.Dup(file.Descriptor!.Value, out int copy), "dup", "skewed ring");
        using var ring = SharedMemoryRegion.FromDescriptor(new FileDescriptor(copy), "skewed", 0x4000_0000, 0x4000, fileOffset: skew);
        Assert.Equal(SharedMemoryType.Normal, ring.MemoryType);
        using var buffers = SharedMemoryRegion.CreateAnonymous(0x1000, 0x8000_0000, name: "buffers");
        var vring = new Vring(ring.Bind(), 0x10, new VringLayout(8, 16));
        var (driver, device) = Pair(vring, new AddressMap().Add(buffers));
        Assert.True(driver.TryAdd(0x8000_0000, 64, deviceWritable: true, token: 7));
        driver.KickPrepare();
        Assert.True(device.TryTakeAvailable(out var chain));
        device.PushUsed(chain.Head, 5);
        Assert.True(driver.TryGetUsed(out int token, out uint length));
        Assert.Equal((7, 5u), (token, length));
    }

    [Fact]
    public void Vring_NormalMemorySkewedByAnOddAmount_IsRefused_TheIndexesWouldBeMisaligned()
    {
        using var file = SharedMemoryRegion.CreateMemFd("odd-file", 0x4001);
        NativeCallException.ThrowIfError(Native.Dup(file.Descriptor!.Value, out int copy), "dup", "odd ring");
        using var ring = SharedMemoryRegion.FromDescriptor(new FileDescriptor(copy), "odd", 0x4000_0000, 0x4000, fileOffset: 1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Vring(ring.Bind(), 0x10, new VringLayout(8, 16)));
        Assert.Equal("offset", e.ParamName);
        Assert.Contains("0x1 bytes past a 2-byte boundary", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Vring_DeviceMemorySkewedBy8_IsStillRefused()
    {
        using var files = new TestFiles();
        string fakeMem = files.CreateFile("fake-mem", 0x10000);
        using var ring = SharedMemoryRegion.OpenDevMem(0x1008, 0x4000, devMemPath: fakeMem, deviceAddress: 0x4000_0000);
        Assert.Equal(SharedMemoryType.Device, ring.MemoryType);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Vring(ring.Bind(), 0, new VringLayout(8, 16)));
        Assert.Contains("0x8 bytes past a 16-byte boundary", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Under the access checker a Normal region takes the Device-memory path: the strict check holds there too.</summary>
    [Fact]
    public void Vring_NormalMemorySkewedBy8UnderTheChecker_IsRefused()
    {
        using var scope = DeviceMemoryScope.Enter();
        using var file = SharedMemoryRegion.CreateMemFd("checked-file", 0x4008);
        NativeCallException.ThrowIfError(Native.Dup(file.Descriptor!.Value, out int copy), "dup", "checked ring");
        using var ring = SharedMemoryRegion.FromDescriptor(new FileDescriptor(copy), "checked", 0x4000_0000, 0x4000, fileOffset: 8);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Vring(ring.Bind(), 0x10, new VringLayout(8, 16)));
        Assert.Contains("0x8 bytes past a 16-byte boundary", e.Message, StringComparison.Ordinal);
    }
}
