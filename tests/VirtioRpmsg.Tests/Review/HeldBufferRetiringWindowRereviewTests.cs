using System.Reflection;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// ef0e2e2 made the redelivery check look at the pins instead of IsLive, so a disposed held buffer a view still pins
/// is not re-armed. But the view's last Unpin brings the pins to 0 before ReleaseHeld swaps in the slot's fresh object
/// (and before the buffer goes back to the peer): a peer that hands the head to us again in that window passed the
/// check and the dispatcher armed and delivered the retired object the application disposed. The window is frozen
/// here by putting the pins at 0 as that Unpin's decrement does (the swap and the return not run yet).
/// </summary>
public sealed class HeldBufferRetiringWindowRereviewTests
{
    private const long Vring1 = 0x8000; // the host's tx ring = the remote's rx ring (OpenAmpLinux layout)

    [Fact]
    public void RedeliveredAfterTheLastUnpinBeforeTheSlotIsSwapped_BreaksAndNeverRearmsTheRetiredObject()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        RpmsgRxBuffer? held = null;
        var delivered = new List<RpmsgRxBuffer>();
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

        var pins = typeof(RpmsgRxBuffer).GetField("_pins", BindingFlags.NonPublic | BindingFlags.Instance)!;
        var view = held!.Open();
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

    private static void RepublishLastHostTxBuffer(RpmsgLoopback loop, uint newDestination)
    {
        var layout = new VringLayout(256, 4096);
        using var lease = loop.Region.Acquire();
        long availIdx = Vring1 + layout.AvailOffset + 2;
        ushort idx = lease.ReadUInt16(availIdx);
        ushort head = lease.ReadUInt16(Vring1 + layout.AvailOffset + 4 + 2 * ((idx - 1) % 256));
        long buffer = (long)lease.ReadUInt64(Vring1 + 16L * head);
        lease.WriteUInt32(buffer + 4, newDestination);
        lease.WriteUInt16(Vring1 + layout.AvailOffset + 4 + 2 * (idx % 256), head);
        lease.WriteUInt16(availIdx, (ushort)(idx + 1));
    }
}
