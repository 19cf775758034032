using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Sends from a receive callback with more messages of its batch after it wait for the next publication
/// (<see cref="RpmsgDeferredSends"/>): at the latest the batch's end or every <see cref="RpmsgDeferredSends.PublishEvery"/>
/// sends (a), before any of the library's blocking waits on that thread (b), and after about a tick of the watchdog when
/// the callback blocks in its own code (c). Both sides poll by hand, so "the peer sees it" is the remote's Poll count.
/// </summary>
public class RpmsgDeferredSendTests
{
    private const byte Marker = 0xAA;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private static RpmsgLoopback BothCallerPoll() => RpmsgLoopback.Create(
        host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
        remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);

    [Fact]
    public void Batch_SendsOfCallbacksWithMoreAfterThemWaitAndAreAllPublishedWhenTheBatchEnds()
    {
        using var loop = BothCallerPoll();
        int peerSaw = 0;
        loop.Remote.CreateEndpoint(0x400, (_, _, p) => peerSaw += p[0] == Marker ? 1 : 0);
        var sender = loop.Remote.CreateEndpoint(0x401);
        int calls = 0;
        int seenDuringSecond = -1;
        loop.Host.CreateEndpoint(0x500, (e, _, _) =>
        {
            if (++calls == 2)
            {
                loop.Remote.Poll();
                seenDuringSecond = peerSaw;
            }
            if (calls <= 2)
                Assert.True(e.TrySendTo(0x400, [Marker])); // the third callback (the batch's last) sends nothing
        });
        for (int i = 0; i < 3; i++)
            Assert.True(sender.TrySendTo(0x500, [(byte)i]));

        Assert.Equal(3, loop.Host.Poll());
        Assert.Equal(0, seenDuringSecond); // the first callback's reply was not published yet
        loop.Remote.Poll();
        Assert.Equal(2, peerSaw); // both published when the batch ended, though its last callback sent nothing
    }

    [Fact]
    public void Batch_EveryPublishEveryThSendPublishesTheOnesBeforeIt()
    {
        using var loop = BothCallerPoll();
        int peerSaw = 0;
        loop.Remote.CreateEndpoint(0x400, (_, _, p) => peerSaw += p[0] == Marker ? 1 : 0);
        var sender = loop.Remote.CreateEndpoint(0x401);
        var seen = new List<int>();
        loop.Host.CreateEndpoint(0x500, (e, _, _) =>
        {
            loop.Remote.Poll();
            seen.Add(peerSaw);
            Assert.True(e.TrySendTo(0x400, [Marker]));
        });
        int n = 2 * RpmsgDeferredSends.PublishEvery + 1;
        for (int i = 0; i < n; i++)
            Assert.True(sender.TrySendTo(0x500, [(byte)i]));

        Assert.Equal(n, loop.Host.Poll());
        // Before callback i (0-based) the peer has every send up to the last multiple of PublishEvery.
        var expected = Enumerable.Range(0, n).Select(i => i / RpmsgDeferredSends.PublishEvery * RpmsgDeferredSends.PublishEvery);
        Assert.Equal(expected, seen);
        loop.Remote.Poll();
        Assert.Equal(n, peerSaw);
    }

    [Fact]
    public void CallbackSendsThenBlocksOnItsOwnSemaphore_TheWatchdogPublishesAndThePeerAnswers()
    {
        // The callback waits for a semaphore the peer's thread releases once the request reached it: with the
        // request unpublished until the callback returns, this would wait forever.
        using var loop = BothCallerPoll();
        using var answered = new SemaphoreSlim(0);
        loop.Remote.CreateEndpoint(0x400, (_, _, p) =>
        {
            if (p[0] == Marker)
                answered.Release();
        });
        var sender = loop.Remote.CreateEndpoint(0x401);
        bool? released = null;
        loop.Host.CreateEndpoint(0x500, (e, _, p) =>
        {
            if (p[0] != 0)
                return;
            Assert.True(e.TrySendTo(0x400, [Marker])); // deferred: another message follows in this batch
            released = answered.Wait(Bound);
        });
        Assert.True(sender.TrySendTo(0x500, [0]));
        Assert.True(sender.TrySendTo(0x500, [1]));
        using var stop = new CancellationTokenSource();
        var peer = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                loop.Remote.Poll();
                Thread.Sleep(1);
            }
        });
        peer.Start();
        try
        {
            Assert.Equal(2, loop.Host.Poll());
        }
        finally
        {
            stop.Cancel();
            Assert.True(peer.Join(Bound));
        }
        Assert.True(released, "the peer never got the request the blocked callback sent");
        Assert.True(loop.Host.Rx.DeferredSends.WatchdogPublications >= 1);
    }

    [Fact]
    public void CallbackWaitsForATxBuffer_ItsEarlierSendIsPublishedBeforeItWaits()
    {
        using var loop = BothCallerPoll();
        loop.Host.Rx.DeferredSends.WatchdogEnabled = false; // only the rule under test may publish
        int peerSaw = 0;
        loop.Remote.CreateEndpoint(0x400, (_, _, p) => peerSaw += p[0] == Marker ? 1 : 0);
        var sender = loop.Remote.CreateEndpoint(0x401);
        var filler = loop.Host.CreateEndpoint(0x502);
        int ring = 0;
        while (filler.TrySendTo(0x400, [0]))
            ring++;
        loop.Remote.Poll(); // every tx buffer back
        for (int i = 0; i < ring - 1; i++)
            Assert.True(filler.TrySendTo(0x400, [0])); // one left
        int seenAfterWait = -1;
        bool timedOut = false;
        loop.Host.CreateEndpoint(0x500, (e, _, p) =>
        {
            if (p[0] != 0)
                return;
            Assert.True(e.TrySendTo(0x400, [Marker])); // the last free buffer, deferred
            try
            {
                e.SendTo(0x400, [Marker], TimeSpan.FromMilliseconds(30));
            }
            catch (TimeoutException)
            {
                timedOut = true;
            }
            loop.Remote.Poll();
            seenAfterWait = peerSaw;
        });
        Assert.True(sender.TrySendTo(0x500, [0]));
        Assert.True(sender.TrySendTo(0x500, [1]));

        loop.Host.Poll();
        Assert.True(timedOut);
        Assert.Equal(1, seenAfterWait);
    }

    [Fact]
    public void CallbackWaitsInAnotherDevicesReceive_ItsSendIsPublishedBeforeItWaits()
    {
        using var loop = BothCallerPoll();
        using var other = BothCallerPoll();
        loop.Host.Rx.DeferredSends.WatchdogEnabled = false;
        int peerSaw = 0;
        loop.Remote.CreateEndpoint(0x400, (_, _, p) => peerSaw += p[0] == Marker ? 1 : 0);
        var sender = loop.Remote.CreateEndpoint(0x401);
        var quiet = other.Host.CreateEndpoint(0x600);
        int seenAfterWait = -1;
        loop.Host.CreateEndpoint(0x500, (e, _, p) =>
        {
            if (p[0] != 0)
                return;
            Assert.True(e.TrySendTo(0x400, [Marker]));
            Assert.False(quiet.TryReceive(new byte[16], TimeSpan.FromMilliseconds(20), out RpmsgReceiveResult _));
            loop.Remote.Poll();
            seenAfterWait = peerSaw;
        });
        Assert.True(sender.TrySendTo(0x500, [0]));
        Assert.True(sender.TrySendTo(0x500, [1]));

        loop.Host.Poll();
        Assert.Equal(1, seenAfterWait);
    }

    [Fact]
    public void CallbackStopsTheDevice_ItsSendIsPublishedFirst()
    {
        using var loop = BothCallerPoll();
        loop.Host.Rx.DeferredSends.WatchdogEnabled = false;
        int peerSaw = 0;
        loop.Remote.CreateEndpoint(0x400, (_, _, p) => peerSaw += p[0] == Marker ? 1 : 0);
        var sender = loop.Remote.CreateEndpoint(0x401);
        loop.Host.CreateEndpoint(0x500, (e, _, p) =>
        {
            if (p[0] != 0)
                return;
            Assert.True(e.TrySendTo(0x400, [Marker]));
            loop.Host.Stop();
        });
        Assert.True(sender.TrySendTo(0x500, [0]));
        Assert.True(sender.TrySendTo(0x500, [1]));
        try
        {
            loop.Host.Poll();
        }
        catch (RpmsgDeviceUnavailableException)
        {
            // Stopped under its own Poll: what the peer got is what is checked.
        }
        loop.Remote.Poll();
        Assert.Equal(1, peerSaw);
    }
}
