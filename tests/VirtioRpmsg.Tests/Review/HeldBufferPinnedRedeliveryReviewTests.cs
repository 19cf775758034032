using System.Reflection;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// A held rx buffer disposed while a view of it is still open stays ours until that view closes (the view pins it).
/// A hostile host that hands the same head to us again in that window reuses a buffer it has not got back: that must
/// break the device (HeldBufferRedelivered), as it does while the buffer is held, not deliver the new message over the
/// bytes the open view still reads, nor re-arm the retired RpmsgRxBuffer object the application disposed.
/// </summary>
public class HeldBufferPinnedRedeliveryReviewTests
{
    private const long Vring1 = 0x8000; // the host's tx ring = the remote's rx ring (OpenAmpLinux layout)

    [Fact]
    public void RedeliveredWhileAViewPinsTheDisposedHeldBuffer_BreaksWithHeldBufferRedelivered()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        int copied = 0;
        loop.Remote.CreateEndpoint(0x601, (_, _, _) => Interlocked.Increment(ref copied));
        var held = HoldFirst(loop, []);

        var view = held.Open();
        try
        {
            held.Dispose(); // the view still pins it: the buffer is not back with the host yet
            Assert.False(held.IsLive);

            RepublishLastHostTxBuffer(loop, newDestination: 0x601);
            Task.Run(() => loop.Remote.Poll()).Wait(TimeSpan.FromSeconds(30));

            string seen = System.Text.Encoding.ASCII.GetString(view.Payload[..5]);
            Assert.True(loop.Remote.State == RpmsgDeviceState.Broken,
                $"the host reused a buffer a view still pins and the device stayed {loop.Remote.State} "
                + $"(delivered to the copy endpoint {copied} time(s), the retired held object live again: {held.IsLive}; the open view reads \"{seen}\")");
            Assert.Equal(FaultRule.HeldBufferRedelivered, loop.Remote.Fault!.Rule);
            Assert.Equal(0, copied);
            Assert.False(held.IsLive);
        }
        finally
        {
            view.Dispose();
        }
    }

    [Fact]
    public void RedeliveredToAZeroCopyEndpointWhileAViewPinsTheDisposedHeldBuffer_NeverRearmsTheRetiredObject()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var delivered = new List<RpmsgRxBuffer>();
        var held = HoldFirst(loop, delivered);

        var view = held.Open();
        try
        {
            held.Dispose();
            RepublishLastHostTxBuffer(loop, newDestination: 0x600);
            Task.Run(() => loop.Remote.Poll()).Wait(TimeSpan.FromSeconds(30));

            int sameObject;
            lock (delivered)
                sameObject = delivered.Count(b => ReferenceEquals(b, held));
            Assert.True(sameObject == 1,
                $"the disposed (retired) held buffer object was armed and delivered again ({sameObject} deliveries of it; device {loop.Remote.State})");
            Assert.Equal(RpmsgDeviceState.Broken, loop.Remote.State);
        }
        finally
        {
            view.Dispose();
        }
    }

    /// <summary>
    /// ef0e2e2 made the redelivery check look at the pins instead of IsLive, so a disposed held buffer a view still pins
    /// is not re-armed. But the view's last Unpin brings the pins to 0 before ReleaseHeld swaps in the slot's fresh object
    /// (and before the buffer goes back to the peer): a peer that hands the head to us again in that window passed the
    /// check and the dispatcher armed and delivered the retired object the application disposed. The window is frozen
    /// here by putting the pins at 0 as that Unpin's decrement does (the swap and the return not run yet).
    /// </summary>
    [Fact]
    public void RedeliveredAfterTheLastUnpinBeforeTheSlotIsSwapped_BreaksAndNeverRearmsTheRetiredObject()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var delivered = new List<RpmsgRxBuffer>();
        var held = HoldFirst(loop, delivered);

        var pins = typeof(RpmsgRxBuffer).GetField("_pins", BindingFlags.NonPublic | BindingFlags.Instance)!;
        var view = held.Open();
        held.Dispose(); // retired; the view's pin keeps the buffer ours
        view.Dispose(); // gives it back (slot swapped, buffer returned) ...
        // ... so rebuild the state inside the view's last Unpin: pins at 0, slot not yet swapped, buffer not yet back.
        var slots = (RpmsgRxBuffer[])typeof(RpmsgRxDispatcher).GetField("_held", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(loop.Remote.Rx)!;
        slots[held.Id] = held;
        pins.SetValue(held, 0);

        RepublishLastHostTxBuffer(loop, newDestination: 0x600);
        Task.Run(() => loop.Remote.Poll()).Wait(TimeSpan.FromSeconds(30));

        int sameObject;
        lock (delivered)
            sameObject = delivered.Count(b => ReferenceEquals(b, held));
        Assert.True(sameObject == 1 && loop.Remote.State == RpmsgDeviceState.Broken,
            $"the retired held object was armed and delivered again ({sameObject} deliveries of it; device {loop.Remote.State}, live again: {held.IsLive})");
    }

    /// <summary>A zero-copy endpoint at 0x600 that records every buffer it is given and holds the first; the host sends it one.</summary>
    private static RpmsgRxBuffer HoldFirst(RpmsgLoopback loop, List<RpmsgRxBuffer> delivered)
    {
        RpmsgRxBuffer? held = null;
        loop.Remote.CreateZeroCopyEndpoint(0x600, (_, buffer) =>
        {
            lock (delivered)
                delivered.Add(buffer);
            if (held is null)
            {
                buffer.Hold();
                held = buffer;
            }
        });
        loop.Host.CreateEndpoint(0x500).SendTo(0x600, "first"u8);
        loop.WaitUntil(() => held is not null, "the remote holds the message");
        return held!;
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
