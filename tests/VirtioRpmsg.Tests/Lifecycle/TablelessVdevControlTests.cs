using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>The control of a layout without a resource table (RPMsg-Lite's): no shared status or feature words.</summary>
public class TablelessVdevControlTests
{
    private const long AvailIndex = 0x1002;

    [Fact]
    public void Remote_HostPostsItsReceiveBuffers_SeesDriverOk()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(0x2000, deviceAddress: 0, guardPages: true, name: "tableless");
        var control = new TablelessVdevControl(PlatformRole.Remote, RpmsgFeatures.NameService, region.Bind(), AvailIndex);
        Assert.Equal(VirtioStatus.None, control.Status);

        using (var lease = region.Acquire())
            lease.WriteUInt16(AvailIndex, 256);

        Assert.True((control.Status & VirtioStatus.DriverOk) != 0, "vring 0's receive buffers are the master's 'link up'");
        Assert.Equal(RpmsgFeatures.NameService, control.DriverFeatures);
    }

    [Fact]
    public void Remote_StatusWrite_TouchesNoSharedMemory()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(0x2000, deviceAddress: 0, guardPages: true, name: "tableless");
        var control = new TablelessVdevControl(PlatformRole.Remote, RpmsgFeatures.NameService, region.Bind(), AvailIndex);

        control.Status = VirtioStatus.NeedsReset;

        using var lease = region.Acquire();
        Assert.Equal(0, lease.ReadUInt16(AvailIndex));
        Assert.Equal(VirtioStatus.None, control.Status);
    }

    [Fact]
    public void Host_StatusAndFeatures_StayPrivate()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(0x2000, deviceAddress: 0, guardPages: true, name: "tableless");
        var control = new TablelessVdevControl(PlatformRole.Host, RpmsgFeatures.NameService, region.Bind(), AvailIndex);

        control.DriverFeatures = 0;
        control.Status = VirtioStatus.Acknowledge | VirtioStatus.DriverOk;

        Assert.Equal(VirtioStatus.Acknowledge | VirtioStatus.DriverOk, control.Status);
        Assert.Equal(0u, control.DriverFeatures);
        Assert.Equal(RpmsgFeatures.NameService, control.DeviceFeatures);
        using var lease = region.Acquire();
        Assert.Equal(0, lease.ReadUInt16(AvailIndex));
    }

    [Fact]
    public void Create_AvailIndexOutsideTheRegion_ThrowsAtOnce()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(0x2000, deviceAddress: 0, guardPages: true, name: "tableless");
        var e = Assert.Throws<AddressRangeException>(() => new TablelessVdevControl(PlatformRole.Remote, RpmsgFeatures.NameService, region.Bind(), 0x2000));
        Assert.Contains("0x2000", e.Message);
    }
}
