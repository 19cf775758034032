using VirtioRpmsg.Interop;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform;

/// <summary>
/// A real eventfd whose counter a hostile or buggy peer brought to its limit (2^64 - 2). Our outbound's open file is the
/// peer's inbound, which the peer's doorbell puts in blocking mode for its long waits, and a blocking eventfd write
/// waits while the counter has no room: Ring, and the wake-ups a waiter writes into the counter it blocks on, must not.
/// </summary>
public sealed class EventFdSaturationTests
{
    private const ulong Limit = 0xFFFF_FFFF_FFFF_FFFE;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    private static void Add(FileDescriptor fd, ulong value) =>
        Assert.Equal(sizeof(ulong), Native.Write(fd.Value, BitConverter.GetBytes(value)));

    // Empties the counter without blocking, leaving the file in blocking mode (so a write the old code left blocked
    // completes and its thread ends); the count read, 0 when it was empty.
    private static ulong Empty(FileDescriptor fd)
    {
        var count = new byte[sizeof(ulong)];
        Assert.Equal(0, Native.SetNonBlocking(fd.Value));
        int r = Native.Read(fd.Value, count);
        Assert.Equal(0, Native.SetBlocking(fd.Value));
        return r == sizeof(ulong) ? BitConverter.ToUInt64(count) : 0;
    }

    [Fact]
    public void Ring_PeerSaturatedTheCounter_ReturnsAtOnce_AndThePeerStillSeesARing()
    {
        using var local = EventFdDoorbell.Create("vrpmsg-test-saturated");
        using var peer = local.CreatePeer();
        Assert.True(peer.BlocksInRead, "the peer's inbound (our outbound) should be in blocking mode on this kernel");
        Add(local.PeerInbound, Limit);
        try
        {
            bool rang = Bounded.Run(local.Ring, Bound);

            Assert.False(rang); // refused: the peer's end is full, so it has rings pending already
            Assert.True(peer.Drain(), "the saturated counter must still read as a ring at the peer");
            Assert.True(local.Ring());
            Assert.True(peer.Drain());
        }
        finally
        {
            Empty(local.PeerInbound);
        }
    }

    [Fact]
    public void Ring_TwoRingersOneSlotLeft_NeitherBlocks()
    {
        using var local = EventFdDoorbell.Create("vrpmsg-test-saturated");
        using var peer = local.CreatePeer();
        for (int round = 0; round < 50; round++)
        {
            Add(local.PeerInbound, Limit - 1); // room for one ring
            try
            {
                using var go = new Barrier(2);
                var ringers = Enumerable.Range(0, 2).Select(_ => Task.Factory.StartNew(() =>
                {
                    go.SignalAndWait();
                    return local.Ring();
                }, TaskCreationOptions.LongRunning)).ToArray();
                Assert.True(Task.WaitAll(ringers, Bound), $"round {round}: a ring blocked on a counter with room for one");
                Assert.Equal(Limit, Empty(local.PeerInbound));
            }
            finally
            {
                Empty(local.PeerInbound);
            }
        }
    }

    [Fact]
    public void WaiterGivesACountBack_CounterWithoutRoom_ReturnsAtOnce_AndTheCounterStillReadsRung()
    {
        NativeCallException.ThrowIfError(Native.EventFd(out int raw), "eventfd", "test");
        using var fd = new FileDescriptor(raw);
        Assert.Equal(0, Native.SetBlocking(raw)); // as the inbound a thread blocks in read() on
        Add(fd, 1); // a wake-up landed after the cancelled wait took a peer's near-limit count
        try
        {
            Bounded.Run(() =>
            {
                DescriptorWaiter.AddBack(fd, Limit);
                return true;
            }, Bound);

            Assert.True(Empty(fd) >= 2, "the count given back must still read as a ring");
        }
        finally
        {
            Empty(fd);
        }
    }

    [Fact]
    public void WakeUpWrite_CounterSaturated_ReturnsAtOnce()
    {
        NativeCallException.ThrowIfError(Native.EventFd(out int raw), "eventfd", "test");
        using var fd = new FileDescriptor(raw);
        Assert.Equal(0, Native.SetBlocking(raw));
        Add(fd, Limit);
        try
        {
            Bounded.Run(() =>
            {
                DescriptorWaiter.WriteOne(fd);
                return true;
            }, Bound);

            Assert.Equal(Limit, Empty(fd)); // already the most a counter holds: a reader wakes all the same
        }
        finally
        {
            Empty(fd);
        }
    }
}
