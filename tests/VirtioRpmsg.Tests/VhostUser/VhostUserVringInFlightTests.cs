using VirtioRpmsg.VhostUser;

namespace VirtioRpmsg.Tests.VhostUser;

/// <summary>
/// What a torn-down device left in flight on a queue is taken over only by a device resuming that ring: at the same
/// non-zero base. Base 0 is also what a guest that reset its rings sends: heads it posts then are new, and adopting the
/// old device's record would have two messages written into one buffer.
/// </summary>
public sealed class VhostUserVringInFlightTests
{
    [Fact]
    public void SetBase_SameNonZeroBase_KeepsTheRecord()
    {
        using var ring = new VhostUserVring(0);
        ring.Processed(42, [3, 5], driverLive: true);

        ring.SetBase(42);

        Assert.Equal([3, 5], ring.InFlight);
        Assert.True(ring.DriverLive);
    }

    [Fact]
    public void SetBase_AnotherBase_DropsTheRecordAndTheDriversReadiness()
    {
        using var ring = new VhostUserVring(0);
        ring.Processed(42, [3, 5], driverLive: true);

        ring.SetBase(7);

        Assert.Empty(ring.InFlight);
        Assert.False(ring.DriverLive);
    }

    [Fact]
    public void SetBase_ZeroAfterADeviceThatWrappedToZero_DropsTheInFlightHeads()
    {
        using var ring = new VhostUserVring(0);
        ring.Processed(0, [3, 5], driverLive: true); // 65,536 takes later the next avail index is 0 again

        ring.SetBase(0);

        Assert.Empty(ring.InFlight);
        Assert.True(ring.DriverLive); // a stop/cont before any traffic still finds the driver ready
    }

    // A front-end that rebuilt the ring with another size, then resumed it at the recorded base: the old device's heads
    // were adopted on a ring that never held them (on vring 0, a message written into a buffer the guest never posted).
    [Fact]
    public void SetNum_AnotherSize_DropsTheRecord_EvenAtTheSameBase()
    {
        using var ring = new VhostUserVring(0);
        ring.SetNum(256);
        ring.Processed(42, [3, 5], driverLive: true);

        ring.SetNum(128);
        ring.SetBase(42);

        Assert.Empty(ring.InFlight);
        Assert.False(ring.DriverLive);
    }

    // QEMU's restart after a stop sends SET_VRING_NUM again with the same size: the record stays.
    [Fact]
    public void SetNum_TheSameSize_KeepsTheRecord()
    {
        using var ring = new VhostUserVring(0);
        ring.SetNum(256);
        ring.Processed(42, [3, 5], driverLive: true);

        ring.SetNum(256);
        ring.SetBase(42);

        Assert.Equal([3, 5], ring.InFlight);
        Assert.True(ring.DriverLive);
    }
}
