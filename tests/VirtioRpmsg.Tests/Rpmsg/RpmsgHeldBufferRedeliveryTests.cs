using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// A hostile host re-publishes a tx buffer the remote's application still holds (issue 14, item 7): every
/// receive path (copy, park, drop) must see it before it could give the buffer back under the holder.
/// </summary>
public class RpmsgHeldBufferRedeliveryTests
{
    private const long Vring1 = 0x8000; // the host's tx ring = the remote's rx ring (OpenAmpLinux layout)

    [Fact]
    public void Receive_HeldBufferRedeliveredToACopyEndpoint_BreaksWithHeldBufferRedeliveredAndDoesNotDeliver()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        RpmsgRxBuffer? held = null;
        loop.Remote.CreateZeroCopyEndpoint(0x600, (_, buffer) =>
        {
            buffer.Hold();
            held = buffer;
        });
        int copied = 0;
        loop.Remote.CreateEndpoint(0x601, (_, _, _) => copied++);
        loop.Host.CreateEndpoint(0x500).SendTo(0x600, [1]);
        loop.WaitUntil(() => held is not null, "the remote holds the message");

        RepublishLastHostTxBuffer(loop, newDestination: 0x601);
        loop.Remote.Poll();

        Assert.Equal(RpmsgDeviceState.Broken, loop.Remote.State);
        Assert.Equal(FaultRule.HeldBufferRedelivered, loop.Remote.Fault!.Rule);
        Assert.Equal(0, copied);
        Assert.True(held!.IsLive);
    }

    /// <summary>Puts the head the host published last into avail again, its header now addressed to <paramref name="newDestination"/>.</summary>
    private static void RepublishLastHostTxBuffer(RpmsgLoopback loop, uint newDestination)
    {
        var layout = new VringLayout(256, 4096);
        using var lease = loop.Region.Acquire();
        long availIdx = Vring1 + layout.AvailOffset + 2;
        ushort idx = lease.ReadUInt16(availIdx);
        ushort head = lease.ReadUInt16(Vring1 + layout.AvailOffset + 4 + 2 * ((idx - 1) % 256));
        long buffer = (long)lease.ReadUInt64(Vring1 + 16L * head); // region device address 0
        lease.WriteUInt32(buffer + 4, newDestination);
        lease.WriteUInt16(Vring1 + layout.AvailOffset + 4 + 2 * (idx % 256), head);
        lease.WriteUInt16(availIdx, (ushort)(idx + 1));
    }
}
