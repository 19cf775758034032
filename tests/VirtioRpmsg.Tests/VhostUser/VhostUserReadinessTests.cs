using VirtioRpmsg.Interop;
using VirtioRpmsg.Platform;
using VirtioRpmsg.VhostUser;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.VhostUser;

/// <summary>
/// The vhost-user device's only "driver ready" is the guest's first kick. A front-end may pass one eventfd for
/// both queues (the test front-end does), and a kick landing between the back-end's reads of queue 0's and queue
/// 1's descriptor is then read through queue 1's. The device waited for a kick on queue 0 only and never went
/// live (CI: "the back-end announced nothing within 30 s" under load). A kick read on queue 1 must count.
/// </summary>
public sealed class VhostUserReadinessTests
{
    [Fact]
    public void Status_IsDriverOk_OnlyAfterAKick_EvenOneReadThroughQueue1sDescriptor()
    {
        using var queue0 = EventFdDoorbell.Create("guest queue 0");
        using var queue1 = EventFdDoorbell.Create("guest queue 1");
        using var kick0 = Duplicate(queue0.PeerInbound);
        using var kick1 = Duplicate(queue1.PeerInbound);
        using var call0 = Duplicate(queue0.PeerOutbound);
        using var call1 = Duplicate(queue1.PeerOutbound);
        using var doorbell = new VhostUserDoorbell([kick0, kick1], [call0, call1], "readiness");
        var control = new VhostUserVdevControl(0, 0, doorbell);

        Assert.False(control.Status.HasFlag(VirtioStatus.DriverOk), "ready before any kick");
        Assert.True(queue1.Ring());
        Assert.True(control.Status.HasFlag(VirtioStatus.DriverOk), "a kick read through queue 1's descriptor did not make the driver ready");
    }

    private static FileDescriptor Duplicate(FileDescriptor fd)
    {
        NativeCallException.ThrowIfError(Native.Dup(fd.Value, out int copy), "dup", "readiness test");
        return new FileDescriptor(copy);
    }
}
