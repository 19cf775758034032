using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>The device's fault model: one structured record from the ring up to every exception.</summary>
public class RpmsgDeviceFaultTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>A hostile remote moves vq0's used.idx far past what the host has in flight.</summary>
    private static void CorruptHostRxUsedIndex(RpmsgLoopback loop)
    {
        var layout = new VringLayout(256, 4096);
        long usedIdx = 0x4000 + layout.UsedOffset + 2;
        using var lease = loop.Region.Acquire();
        lease.WriteUInt16(usedIdx, (ushort)(lease.ReadUInt16(usedIdx) + 1000));
    }

    [Fact]
    public void Dispatch_PeerBreaksVirtqueue_FaultIsVirtqueueRuleSeenByStateChangedAndCarriedBySend()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var ept = loop.Host.CreateEndpoint(0x500);
        Fault? seenInHandler = null;
        using var broken = new ManualResetEventSlim();
        loop.Host.StateChanged += (device, state) =>
        {
            if (state != RpmsgDeviceState.Broken)
                return;
            seenInHandler = device.Fault;
            broken.Set();
        };

        CorruptHostRxUsedIndex(loop);
        loop.RemoteDoorbell.Ring(); // the host dispatcher wakes and reads the used ring

        Assert.True(broken.Wait(Bound), "host did not break");
        var fault = loop.Host.Fault;
        Assert.NotNull(fault);
        Assert.Equal(FaultLayer.Virtqueue, fault.Layer);
        Assert.Equal(FaultRule.UsedIndexJump, fault.Rule);
        Assert.Same(fault, seenInHandler);
        Assert.Equal(fault.Message, loop.Host.StateReason);
        var send = Assert.Throws<RpmsgDeviceUnavailableException>(() => ept.SendTo(0x400, [1]));
        Assert.Same(fault, send.Fault);
        Assert.Equal(RpmsgDeviceState.Broken, send.State);
    }

    [Fact]
    public void Poll_PeerBreaksVirtqueue_ThrowsUnavailableCarryingTheDeviceFault()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        CorruptHostRxUsedIndex(loop);

        var ex = Assert.Throws<RpmsgDeviceUnavailableException>(() => loop.Host.Poll());

        Assert.Equal(RpmsgDeviceState.Broken, loop.Host.State);
        Assert.Same(loop.Host.Fault, ex.Fault);
        Assert.Equal(FaultRule.UsedIndexJump, ex.Fault!.Rule);
    }

    [Fact]
    public void Poll_RingFaultAfterGoodMessagesInOneBatch_DeliversThemBeforeTheDeviceBreaks()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var got = new List<byte>();
        loop.Host.CreateEndpoint(0x500, (_, _, payload) => got.Add(payload[0]));
        var peer = loop.Remote.CreateEndpoint(0x400);
        Assert.True(peer.TrySendTo(0x500, [1]));
        Assert.True(peer.TrySendTo(0x500, [2]));
        // Then a used element naming a descriptor that does not exist: the batch that took the two breaks on it.
        var layout = new VringLayout(256, 4096);
        long used = 0x4000 + layout.UsedOffset;
        using (var lease = loop.Region.Acquire())
        {
            ushort idx = lease.ReadUInt16(used + 2);
            lease.WriteUInt32(used + 4 + 8 * (idx % 256), 9999);
            lease.WriteUInt32(used + 4 + 8 * (idx % 256) + 4, 32);
            lease.WriteUInt16(used + 2, (ushort)(idx + 1));
        }

        Assert.Throws<RpmsgDeviceUnavailableException>(() => loop.Host.Poll());

        Assert.Equal(RpmsgDeviceState.Broken, loop.Host.State);
        Assert.Equal(FaultLayer.Virtqueue, loop.Host.Fault!.Layer);
        Assert.Equal(new byte[] { 1, 2 }, got); // the peer's messages before the bad element are not lost with it
    }

    [Fact]
    public void Send_ConfigurationFault_LaterUnavailableCarriesSameFault()
    {
        using var loop = RpmsgLoopback.Create(hostBufferSize: 512, remoteBufferSize: 256);
        var ept = loop.Remote.CreateEndpoint(0x430);
        var first = Assert.Throws<RpmsgConfigurationException>(() => ept.SendTo(0x431, [1]));

        var later = Assert.Throws<RpmsgDeviceUnavailableException>(() => ept.SendTo(0x431, [1]));

        Assert.Same(first.Fault, loop.Remote.Fault);
        Assert.Same(first.Fault, later.Fault);
    }

    [Fact]
    public void Receive_DeviceBreaksWhileWaiting_UnavailableCarriesFault()
    {
        using var loop = RpmsgLoopback.Create(hostBufferSize: 512, remoteBufferSize: 256);
        var queue = loop.Remote.CreateEndpoint(0x430);
        var waiting = Task.Run(() => queue.Receive(new byte[16], Bound));
        Assert.Throws<RpmsgConfigurationException>(() => queue.SendTo(0x431, [1]));

        var ex = Assert.Throws<RpmsgDeviceUnavailableException>(() => waiting.GetAwaiter().GetResult());

        Assert.Same(loop.Remote.Fault, ex.Fault);
    }

    [Fact]
    public void Stop_NotBroken_UnavailableHasNoFaultButTheReason()
    {
        using var loop = RpmsgLoopback.Create();
        var ept = loop.Host.CreateEndpoint(0x500);
        loop.Host.Stop("remote not running");

        var ex = Assert.Throws<RpmsgDeviceUnavailableException>(() => ept.SendTo(0x400, [1]));

        Assert.Null(ex.Fault);
        Assert.Null(loop.Host.Fault);
        Assert.Equal("remote not running", loop.Host.StateReason);
    }

    [Fact]
    public void RemoteLinkUp_HostRewritesTheOfferThenAcceptsMore_BreaksWithFeaturesNotOffered()
    {
        using var loop = RpmsgLoopback.Create(deviceFeatures: RpmsgFeatures.NameService, start: false,
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll, remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        loop.Remote.Start();
        // A hostile host: it offers itself every feature in the remote's dfeatures field, accepts EVENT_IDX (never
        // offered), and writes DRIVER_OK.
        using (var lease = loop.Region.Acquire())
        {
            lease.WriteUInt32(RpmsgLoopback.VdevEntryOffset + VirtioRpmsg.Lifecycle.VdevEntry.DeviceFeaturesOffset, 0xFFFF_FFFF);
            lease.WriteUInt32(RpmsgLoopback.VdevEntryOffset + VirtioRpmsg.Lifecycle.VdevEntry.GuestFeaturesOffset, RpmsgFeatures.NameService | VirtioFeatures.EventIndex);
            lease.WriteByte(RpmsgLoopback.VdevEntryOffset + VirtioRpmsg.Lifecycle.VdevEntry.StatusOffset,
                (byte)(VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk | VirtioStatus.DriverOk));
        }
        loop.Remote.Poll();
        Assert.Equal(RpmsgDeviceState.Broken, loop.Remote.State);
        Assert.Equal(FaultRule.FeaturesNotOffered, loop.Remote.Fault!.Rule);
        Assert.Contains("not offered (0x00000001)", loop.Remote.Fault.Message, StringComparison.Ordinal);
    }
}
