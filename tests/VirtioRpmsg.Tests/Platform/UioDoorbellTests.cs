using System.Globalization;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform;

public sealed class UioDoorbellTests : DescriptorDoorbellContractTests
{
    private const long Register = 0x10;
    private const long Status = 0x14;
    private const uint FullBit = 0x2;

    protected override DoorbellUnderTest Create()
    {
        var device = new FakeUioDevice();
        var mailboxRegion = SharedMemoryRegion.CreateAnonymous(4096, name: "vrpmsg-test-mailbox");
        var doorbell = device.Open(new UioMailbox(mailboxRegion, Register));
        uint count = 0;
        return new DoorbellUnderTest(doorbell, () =>
        {
            // Keep the fake device's queue short, as a real device has no queue.
            device.TakeWrittenWords();
            device.Interrupt(++count);
        }, () =>
        {
            mailboxRegion.Dispose();
            device.Dispose();
        });
    }

    [Fact]
    public void Open_FakeDevice_EnablesInterruptAndReadsName()
    {
        using var device = new FakeUioDevice();
        using var doorbell = device.Open();
        Assert.Equal(new List<uint> { 1 }, device.TakeWrittenWords());
        Assert.Equal(FakeUioDevice.UioName, doorbell.DeviceName);
    }

    [Fact]
    public void Wait_Interrupt_RecordsCountAndAcknowledges()
    {
        using var device = new FakeUioDevice();
        using var doorbell = device.Open();
        device.TakeWrittenWords();
        device.Interrupt(7);
        Assert.True(Bounded.Run(() => doorbell.Wait(Bounded.Limit)));
        Assert.Equal(7u, doorbell.InterruptCount);
        // Acknowledge = re-enable: exactly one 4-byte 1 per consumed interrupt.
        Assert.Equal(new List<uint> { 1 }, device.TakeWrittenWords());
    }

    [Fact]
    public void Wait_InterruptWhileWaiting_WakesWaiter()
    {
        using var device = new FakeUioDevice();
        using var doorbell = device.Open();
        var waiter = Task.Factory.StartNew(() => doorbell.Wait(Timeout.InfiniteTimeSpan), TaskCreationOptions.LongRunning);
        device.Interrupt(1);
        Assert.True(Bounded.Await(waiter));
        Assert.Equal(1u, doorbell.InterruptCount);
    }

    [Fact]
    public void Wait_DeviceGone_ThrowsDoorbellClosedNamingDevice()
    {
        using var device = new FakeUioDevice();
        using var doorbell = device.Open();
        device.Unplug();
        var e = Assert.Throws<DoorbellClosedException>(() => Bounded.Run(() => doorbell.Wait(Bounded.Limit)));
        Assert.Contains("fake /dev/uio0", e.Message);
    }

    [Fact]
    public void Ring_Mailbox_WritesConfiguredValueToRegister()
    {
        using var device = new FakeUioDevice();
        using var region = SharedMemoryRegion.CreateAnonymous(4096, name: "vrpmsg-test-mailbox");
        using var doorbell = device.Open(new UioMailbox(region, Register, ringValue: 0xA5A5_0001));
        Assert.True(doorbell.Ring());
        using var lease = region.Acquire();
        Assert.Equal(0xA5A5_0001u, lease.ReadUInt32(Register));
    }

    [Fact]
    public void Ring_StatusReportsFull_ReturnsFalseWithoutWriting()
    {
        using var device = new FakeUioDevice();
        using var region = SharedMemoryRegion.CreateAnonymous(4096, name: "vrpmsg-test-mailbox");
        using var doorbell = device.Open(new UioMailbox(region, Register, ringValue: 9, statusOffset: Status, statusFullMask: FullBit));
        SetStatus(region, FullBit | 0x1);
        // A mailbox that never drains: every ring is refused at once, none spins.
        int refused = Bounded.Run(() =>
        {
            int n = 0;
            for (int i = 0; i < 100_000; i++)
                n += doorbell.Ring() ? 0 : 1;
            return n;
        });
        Assert.Equal(100_000, refused);
        Assert.Equal(0u, ReadRegister(region));
        SetStatus(region, 0x1);
        Assert.True(doorbell.Ring());
        Assert.Equal(9u, ReadRegister(region));
    }

    [Fact]
    public void Ring_MailboxRegionUnmapped_ReturnsFalse()
    {
        using var device = new FakeUioDevice();
        using var region = SharedMemoryRegion.CreateAnonymous(4096, name: "vrpmsg-test-mailbox");
        using var doorbell = device.Open(new UioMailbox(region, Register));
        region.Unmap();
        Assert.False(doorbell.Ring());
    }

    [Fact]
    public void Ring_NoMailbox_ReturnsFalse()
    {
        using var device = new FakeUioDevice();
        using var doorbell = device.Open();
        Assert.False(doorbell.Ring());
    }

    [Fact]
    public void Ring_MailboxInUioMapOfFakeSysfs_ValueLandsInDeviceMemory()
    {
        using var device = new FakeUioDevice();
        // Map 0 of the fake uio0 is backed by a plain file standing in for the device's registers.
        string maps = Path.Combine(device.Root, "uio0", "maps", "map0");
        Directory.CreateDirectory(maps);
        File.WriteAllText(Path.Combine(maps, "addr"), "0x40000000\n");
        File.WriteAllText(Path.Combine(maps, "size"), "0x1000\n");
        File.WriteAllText(Path.Combine(maps, "offset"), "0x0\n");
        string registers = Path.Combine(device.Root, "registers");
        File.WriteAllBytes(registers, new byte[4096]);
        using (var region = SharedMemoryRegion.OpenUio("uio0", 0, device.Root, registers))
        using (var doorbell = device.Open(new UioMailbox(region, Register, ringValue: 0x1234)))
            Assert.True(doorbell.Ring());
        byte[] bytes = File.ReadAllBytes(registers);
        Assert.Equal(0x1234u, BitConverter.ToUInt32(bytes, (int)Register));
    }

    [Fact]
    public void Open_MissingSysfsEntry_ThrowsUioDeviceNotFoundNamingPath()
    {
        using var device = new FakeUioDevice();
        var e = Assert.Throws<UioDeviceNotFoundException>(() => UioDoorbell.Open("uio7", sysfsRoot: device.Root));
        Assert.Contains(Path.Combine(device.Root, "uio7"), e.Message);
    }

    [Fact]
    public void Open_MissingDeviceNode_ThrowsUioDeviceNotFoundNamingPath()
    {
        using var device = new FakeUioDevice();
        string node = Path.Combine(device.Root, "dev-uio0-missing");
        var e = Assert.Throws<UioDeviceNotFoundException>(() => UioDoorbell.Open("uio0", sysfsRoot: device.Root, devicePath: node));
        Assert.Contains(node, e.Message);
        Assert.Equal(node, e.FileName);
    }

    [Fact]
    public void Open_NotAUioName_ThrowsArgumentNamingDevice()
    {
        var e = Assert.Throws<ArgumentException>(() => UioDoorbell.Open("/dev/ttyS0"));
        Assert.Contains("/dev/ttyS0", e.Message);
    }

    [Fact]
    public void FindDevice_ByName_ReturnsUioN()
    {
        using var device = new FakeUioDevice();
        Assert.Equal("uio0", UioDoorbell.FindDevice(FakeUioDevice.UioName, device.Root));
        var e = Assert.Throws<UioDeviceNotFoundException>(() => UioDoorbell.FindDevice("no-such-device", device.Root));
        Assert.Contains("no-such-device", e.Message);
    }

    [Theory]
    [InlineData(-4)]
    [InlineData(2)]
    [InlineData(4094)]
    [InlineData(4096)]
    public void UioMailbox_RegisterOutsideOrMisaligned_ThrowsNamingOffset(long offset)
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096, name: "vrpmsg-test-mailbox");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new UioMailbox(region, offset));
        Assert.Equal("registerOffset", e.ParamName);
        Assert.Contains("0x" + offset.ToString("X", CultureInfo.InvariantCulture), e.Message);
    }

    [Fact]
    public void UioMailbox_StatusWithoutMask_Throws()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096, name: "vrpmsg-test-mailbox");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new UioMailbox(region, Register, statusOffset: Status));
        Assert.Equal("statusFullMask", e.ParamName);
    }

    private static void SetStatus(SharedMemoryRegion region, uint value)
    {
        using var lease = region.Acquire();
        lease.WriteUInt32(Status, value);
    }

    private static uint ReadRegister(SharedMemoryRegion region)
    {
        using var lease = region.Acquire();
        return lease.ReadUInt32(Register);
    }
}
