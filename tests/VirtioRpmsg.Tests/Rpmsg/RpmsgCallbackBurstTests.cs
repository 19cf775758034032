using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Callbacks that send more than the link holds, against a peer whose callbacks send too (an echo): the
/// dispatcher blocked in a send parks what arrives, and a parked backlog bounded by the buffer count let both
/// dispatchers wait on each other until the send timeout (the third CI failure of
/// Send_EightThreadsWhileCallbackAlsoSends; here it happens on every run).
/// </summary>
public class RpmsgCallbackBurstTests
{
    private const int VringNum = 16; // 16 buffers each way; each dispatcher parks 32 messages in its fixed slots

    [Theory]
    [InlineData(200, RpmsgWaitStrategy.Interrupt)]
    [InlineData(2_000, RpmsgWaitStrategy.Interrupt)]
    [InlineData(2_000, RpmsgWaitStrategy.Hybrid)]
    [InlineData(2_000, RpmsgWaitStrategy.BusyPoll)]
    public void Send_CallbackBurstBeyondBothBacklogsToAnEchoPeer_EveryEchoArrivesInOrder(int burst, RpmsgWaitStrategy wait)
    {
        using var loop = RpmsgLoopback.Create(
            host: o => (o.SendTimeout, o.WaitStrategy) = (TimeSpan.FromSeconds(20), wait),
            remote: o => (o.SendTimeout, o.WaitStrategy) = (TimeSpan.FromSeconds(20), wait),
            vringNum: VringNum);
        loop.Remote.CreateEndpoint(0x400, (ept, src, payload) => ept.SendTo(src, payload));
        var echoes = new List<int>();
        bool burstSent = false;
        loop.Host.CreateEndpoint(0x500, (ept, _, payload) =>
        {
            if (payload[0] == 1)
            {
                for (int i = 0; i < burst; i++)
                    ept.SendTo(0x400, [0, (byte)i, (byte)(i >> 8)]);
                Volatile.Write(ref burstSent, true);
                return;
            }
            lock (echoes)
                echoes.Add(payload[1] | payload[2] << 8);
        });
        loop.Remote.CreateEndpoint(0x401).SendTo(0x500, [1]); // runs the burst on the host's dispatcher
        loop.WaitUntil(() => Volatile.Read(ref burstSent) && echoes.Count == burst, "every echo of the burst", seconds: 60);
        Assert.Equal(0, loop.Host.Counters.CallbackErrors);
        Assert.Equal(0, loop.Remote.Counters.CallbackErrors);
        lock (echoes)
            Assert.Equal(Enumerable.Range(0, burst), echoes);
        Assert.Equal(0, loop.Host.Counters.Dropped);
    }

    [Theory]
    [InlineData(RpmsgWaitStrategy.Interrupt)]
    [InlineData(RpmsgWaitStrategy.CallerPoll)]
    public void Send_CallbackBlocked_ParksThePeersMessagesAsTheyCome_NotAtTheRecheckInterval(RpmsgWaitStrategy hostWait)
    {
        // The host wakes only by a kick (a one-minute recheck); the remote never returns the host's tx buffers, so the
        // callback stays blocked, and the remote's 200 sends need the host to park each ring's worth as it arrives.
        using var loop = RpmsgLoopback.Create(
            host: o => (o.WaitStrategy, o.IdleRecheckInterval, o.SendTimeout) = (hostWait, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(60)),
            // Nobody polls the remote: its blocked sender looks for buffers the host gave back every 10 ms.
            remote: o => (o.WaitStrategy, o.IdleRecheckInterval) = (RpmsgWaitStrategy.CallerPoll, TimeSpan.FromMilliseconds(10)),
            vringNum: VringNum);
        loop.Remote.CreateEndpoint(0x400);
        using var inCallback = new ManualResetEventSlim();
        var blocked = loop.Host.CreateEndpoint(0x500, (ept, _, payload) =>
        {
            if (payload[0] != 9)
                return;
            inCallback.Set();
            ept.SendTo(0x400, [1]); // returns once the remote polls, at the end
        });
        while (blocked.TrySendTo(0x400, [0]))
        {
        }
        var source = loop.Remote.CreateEndpoint(0x401);
        source.SendTo(0x500, [9]);
        var poller = hostWait == RpmsgWaitStrategy.CallerPoll ? Task.Run(() => loop.Host.Poll()) : Task.CompletedTask;
        Assert.True(inCallback.Wait(TimeSpan.FromSeconds(30)), "the callback did not run");

        var flood = Task.Run(() =>
        {
            for (int i = 0; i < 200; i++)
                source.SendTo(0x500, [3], TimeSpan.FromSeconds(30));
        });

        Assert.True(flood.Wait(TimeSpan.FromSeconds(30)), "the remote's sends waited for the host's recheck interval");
        Assert.True(Task.Run(() => loop.Remote.Poll()).Wait(TimeSpan.FromSeconds(30))); // the host's tx buffers back
        Assert.True(poller.Wait(TimeSpan.FromSeconds(30)), "the host's Poll did not end");
        loop.WaitUntil(() => loop.Host.Counters.RxMessages == 201, "every message delivered");
        Assert.Equal(0, loop.Host.Counters.CallbackErrors);
    }

    [Theory]
    [InlineData(RpmsgWaitStrategy.Interrupt)]
    [InlineData(RpmsgWaitStrategy.CallerPoll)]
    public void Send_CallbackBlockedWithTheBacklogFullBeforeItMayGrow_WaitsInsteadOfSpinning(RpmsgWaitStrategy hostWait)
    {
        // The remote fills the host's fixed slots and its ring, and never returns the host's tx buffers: until the
        // backlog may grow, the callback's send has nothing to do but wait (for its buffers, or for the growth).
        using var loop = RpmsgLoopback.Create(
            host: o => (o.WaitStrategy, o.IdleRecheckInterval, o.SendTimeout) = (hostWait, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(60)),
            remote: o => (o.WaitStrategy, o.IdleRecheckInterval) = (RpmsgWaitStrategy.CallerPoll, TimeSpan.FromMilliseconds(10)),
            vringNum: VringNum);
        loop.Host.Rx.GrowAfter = TimeSpan.FromSeconds(60);
        int passes = 0;
        loop.Host.Rx.Parking = () => Interlocked.Increment(ref passes);
        loop.Remote.CreateEndpoint(0x400);
        using var inCallback = new ManualResetEventSlim();
        var blocked = loop.Host.CreateEndpoint(0x500, (ept, _, payload) =>
        {
            if (payload[0] != 9)
                return;
            inCallback.Set();
            ept.SendTo(0x400, [1]); // returns once the remote polls, at the end
        });
        while (blocked.TrySendTo(0x400, [0]))
        {
        }
        var source = loop.Remote.CreateEndpoint(0x401);
        source.SendTo(0x500, [9]);
        var poller = hostWait == RpmsgWaitStrategy.CallerPoll ? Task.Run(() => loop.Host.Poll()) : Task.CompletedTask;
        Assert.True(inCallback.Wait(TimeSpan.FromSeconds(30)), "the callback did not run");
        const int Fill = 2 * VringNum + VringNum; // the 32 fixed slots, then the ring's 16 buffers
        var flood = Task.Run(() =>
        {
            for (int i = 0; i < Fill; i++)
                source.SendTo(0x500, [3], TimeSpan.FromSeconds(30));
        });
        Assert.True(flood.Wait(TimeSpan.FromSeconds(30)), "the host did not park the fixed slots' worth");
        Assert.False(source.TrySendTo(0x500, [3]), "the host's ring is not full");

        // Each pass parks nothing: a spinning sender makes thousands in this bound, a waiting one none (nothing rings).
        int before = Volatile.Read(ref passes);
        bool spun = SpinWait.SpinUntil(() => Volatile.Read(ref passes) - before > 50, TimeSpan.FromMilliseconds(500));

        Assert.True(Task.Run(() => loop.Remote.Poll()).Wait(TimeSpan.FromSeconds(30))); // the host's tx buffers back
        Assert.True(poller.Wait(TimeSpan.FromSeconds(30)), "the host's Poll did not end");
        Assert.False(spun, $"the callback's send looked {Volatile.Read(ref passes) - before} times with nothing to park");
        loop.WaitUntil(() => loop.Host.Counters.RxMessages == 1 + Fill, "every message delivered");
        Assert.Equal(0, loop.Host.Counters.CallbackErrors);
    }
}
