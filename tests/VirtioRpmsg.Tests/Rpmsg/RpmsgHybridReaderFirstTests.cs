using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Hybrid, with a peer that kicks for every message whatever it is asked (RPMsg-Lite's remote): the dispatcher thread
/// does not spin its budget while a message it queued waits for its reader. On a 2-CPU machine with the other CPU taken,
/// the reader and the peer its kick woke waited on the dispatcher's core for the whole spin, every round trip:
/// `rpmsg ping --wait hybrid` against RPMsg-Lite's remote read 66-80 us where interrupt and poll read 9-16 us
/// (docs/wait-strategies.md, "Hybrid on a small, loaded machine"). A huge spin budget stands for "spins for good": the
/// dispatcher either sleeps on the doorbell at once or not at all. With a peer that honours the suppression the spin
/// stays (sleeping with kicks on cost the own remote's echo a kick and a wake-up per message).
/// </summary>
public class RpmsgHybridReaderFirstTests
{
    private static readonly TimeSpan Forever = TimeSpan.FromMinutes(10);

    [Fact]
    public void Hybrid_PeerKicksWhateverAsked_MessageQueuedForAReaderThatHasNotRunYet_DispatcherSleepsInsteadOfSpinning()
    {
        using var loop = RpmsgLoopback.Create(
            host: o =>
            {
                o.WaitStrategy = RpmsgWaitStrategy.Hybrid;
                o.HybridSpin = Forever;
            },
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.Interrupt,
            conventions: RpmsgPeerConventions.RpmsgLite,
            hookedDoorbells: true);
        var remote = loop.Remote.CreateEndpoint(0x400, (ept, source, payload) => ept.SendTo(source, payload));
        var queue = loop.Host.CreateEndpoint(0x500);
        var hostBell = (HookedDoorbell)loop.HostBell;

        // Nobody reads yet: the dispatcher thread takes the echo into the queue.
        queue.SendTo(0x400, [1]);
        loop.WaitUntil(() => queue.ReceiveQueue!.Ready(), "the echo queued");

        // It goes back to the doorbell instead of spinning ahead of the reader (before: for the whole budget).
        loop.WaitUntil(() => hostBell.HasWaiter, "the dispatcher waiting on the doorbell with the echo unread");

        // The peer's next message wakes it and is queued behind the first.
        remote.SendTo(0x500, [2]);
        var buffer = new byte[1];
        Assert.Equal(0x400u, queue.Receive(buffer, TimeSpan.FromSeconds(30)).Source);
        Assert.Equal(1, buffer[0]);
        Assert.Equal(0x400u, queue.Receive(buffer, TimeSpan.FromSeconds(30)).Source);
        Assert.Equal(2, buffer[0]);
    }

    [Theory]
    [InlineData(RpmsgPeerConventions.Virtio, true)]
    [InlineData(RpmsgPeerConventions.RpmsgLite, false)]
    public void Hybrid_SpinAfterAQueuedMessage_OnlyWhenTheReaderTookItOrThePeerHonoursSuppression(RpmsgPeerConventions conventions, bool spinsWithItUnread)
    {
        // The rule is narrow: with a peer that honours the suppression the loop spins as before; with one that does not,
        // it spins once the queue it fed is empty again (here a callback of a later pass read it) or after a callback.
        using var loop = RpmsgLoopback.Create(
            host: o =>
            {
                o.WaitStrategy = RpmsgWaitStrategy.Hybrid;
                o.HybridSpin = TimeSpan.FromMilliseconds(20);
            },
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.Interrupt,
            conventions: conventions,
            hookedDoorbells: true);
        var remote = loop.Remote.CreateEndpoint(0x400);
        var queue = loop.Host.CreateEndpoint(0x500);
        using var read = new SemaphoreSlim(0);
        loop.Host.CreateEndpoint(0x501, (_, _, _) =>
        {
            if (queue.TryReceive(new byte[1], TimeSpan.Zero, out _))
                read.Release();
        });
        var thread = loop.Host.DispatcherThread!;
        // The spin after the link-up is over: from here on a spent spin is one that followed these messages.
        loop.WaitUntil(() => ((HookedDoorbell)loop.HostBell).HasWaiter, "the idle dispatcher on the doorbell");
        long before = thread.SpentSpins;

        remote.SendTo(0x500, [1]);
        if (!spinsWithItUnread)
        {
            remote.SendTo(0x501, [2]);
            Assert.True(read.Wait(TimeSpan.FromSeconds(30)), "the callback did not read the queued message");
        }
        var bound = System.Diagnostics.Stopwatch.StartNew();
        while (thread.SpentSpins <= before)
        {
            Assert.True(bound.Elapsed < TimeSpan.FromSeconds(30), "the dispatcher did not spin after the messages");
            Thread.Yield();
        }
        if (spinsWithItUnread)
            Assert.True(queue.TryReceive(new byte[1], TimeSpan.Zero, out _), "the message was not queued");
    }
}
