using System.Collections.Concurrent;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// The hand-off between the dispatcher thread and a Poll (a spinning queue reader's help, or an application's
/// Poll) that holds the rx ring: the dispatcher sleeps on the doorbell and the Poll looks again when it leaves.
/// A message that arrives after that second look must still wake the dispatcher: nothing may wait for the
/// IdleRecheckInterval (set far beyond the test's bound here, so such a wait fails the test).
/// </summary>
public class RpmsgPollHandOffTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void Dispatcher_PollLeavesAfterDeferral_MessageArrivingThenIsDeliveredWithoutRecheck()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.IdleRecheckInterval = TimeSpan.FromMinutes(10),
            hookedDoorbells: true);
        var hostBell = (HookedDoorbell)loop.HostBell;
        var remoteBell = (HookedDoorbell)loop.RemoteBell;
        using var inCallback = new ManualResetEventSlim();
        using var releaseCallback = new ManualResetEventSlim();
        int blocked = 0;
        loop.Host.CreateEndpoint(0x600, (_, _, _) =>
        {
            if (Interlocked.Exchange(ref blocked, 1) == 0)
            {
                inCallback.Set();
                Assert.True(releaseCallback.Wait(Bound));
            }
        });
        var arrivals = new BlockingCollection<byte>();
        loop.Host.CreateEndpoint(0x601, (_, _, payload) => arrivals.Add(payload[0]));
        var sender = loop.Remote.CreateEndpoint(0x700);

        // The host dispatcher sleeps (notifications on); the remote's kicks are dropped from here on, so the
        // first message is taken by a Poll, whose callback then holds the ring.
        Assert.True(hostBell.RingAndWaitUntilIdle(() => loop.RemoteDoorbell.Ring()), "host dispatcher did not go idle");
        remoteBell.Muted = true;
        sender.SendTo(0x600, [1]);
        var poll = Task.Factory.StartNew(() => loop.Host.Poll(), TaskCreationOptions.LongRunning);
        Assert.True(inCallback.Wait(Bound), "the Poll did not take the first message");

        // A kick wakes the dispatcher: it finds the ring held by the Poll and leaves it to it (held in the hook).
        using var deferred = new ManualResetEventSlim();
        using var releaseDispatcher = new ManualResetEventSlim();
        int hooked = 0;
        loop.Host.Rx.Deferred = () =>
        {
            if (Interlocked.Exchange(ref hooked, 1) == 0)
            {
                deferred.Set();
                releaseDispatcher.Wait(Bound);
            }
        };
        remoteBell.Muted = false;
        sender.SendTo(0x601, [2]);
        Assert.True(deferred.Wait(Bound), "the dispatcher did not defer to the Poll");

        // The Poll handles that message, looks again for the dispatcher, finds nothing and leaves.
        releaseCallback.Set();
        Assert.True(poll.Wait(Bound), "the Poll did not return");
        Assert.True(arrivals.TryTake(out byte second, Bound));
        Assert.Equal(2, second);

        // Only now the next message: nobody holds the ring, so the dispatcher must be woken for it.
        sender.SendTo(0x601, [3]);
        releaseDispatcher.Set();
        Assert.True(arrivals.TryTake(out byte third, Bound), "a message that arrived after the Poll's last look waited for the idle re-check");
        Assert.Equal(3, third);
    }
}
