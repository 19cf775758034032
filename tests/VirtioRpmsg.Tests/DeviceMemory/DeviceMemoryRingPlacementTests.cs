using VirtioRpmsg.Memory;
using VirtioRpmsg.Tests.Memory;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.DeviceMemory;

/// <summary>
/// A vring's alignment is checked at its device address and region offset, but the library accesses it at the host
/// address, which is aligned like them only when the mapping's first byte is: a devMem region whose physical address
/// differs from its device address in the low bits (or a UIO map whose offset does) puts every 64-bit descriptor word,
/// 32-bit used field and index at a misaligned host address, which Device memory does not allow.
/// </summary>
public class DeviceMemoryRingPlacementTests
{
    [Theory]
    [InlineData(0x1004UL)]
    [InlineData(0x1001UL)]
    public void Vring_HostMappingMisalignedWhileTheDeviceAddressIsAligned_IsRefusedAtPlacement(ulong physicalAddress)
    {
        using var files = new TestFiles();
        string fakeMem = files.CreateFile("fake-mem", 0x10000);
        using var ring = SharedMemoryRegion.OpenDevMem(physicalAddress, 0x4000, devMemPath: fakeMem, deviceAddress: 0x4000_0000);
        Assert.Equal(SharedMemoryType.Device, ring.MemoryType);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Vring(ring.Bind(), 0, new VringLayout(8, 16)));
        Assert.Equal("offset", e.ParamName);
        Assert.Contains("host mapping", e.Message, StringComparison.Ordinal);
        Assert.Contains($"0x{physicalAddress & 0xF:X} bytes past a 16-byte boundary", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Vring_HostMappingAlignedLikeTheDeviceAddress_IsPlaced_AndEveryAccessIsAligned()
    {
        using var files = new TestFiles();
        string fakeMem = files.CreateFile("fake-mem", 0x10000);
        using var scope = DeviceMemoryScope.Enter();
        // Physical 0x1010 seen at 0x4000_0010: the ring at offset 0x30 is 16-byte aligned on both sides.
        using var ring = SharedMemoryRegion.OpenDevMem(0x1010, 0x4000, devMemPath: fakeMem, deviceAddress: 0x4000_0010);
        using var buffers = SharedMemoryRegion.CreateAnonymous(0x1000, 0x8000_0000, name: "buffers");
        var vring = new Vring(ring.Bind(), 0x30, new VringLayout(8, 16));
        var driver = new VirtqueueDriver("driver", vring, new AddressMap().Add(buffers), false);
        var device = new VirtqueueDevice("device", vring, new AddressMap().Add(buffers), false);
        Assert.True(driver.TryAdd(0x8000_0000, 64, deviceWritable: true, token: 7));
        driver.KickPrepare();
        Assert.True(device.TryTakeAvailable(out var chain));
        device.PushUsed(chain.Head, 5);
        Assert.True(driver.TryGetUsed(out int token, out uint length));
        Assert.Equal((7, 5u), (token, length));
        Assert.Equal(0, scope.Checker.ViolationCount);
    }
}
