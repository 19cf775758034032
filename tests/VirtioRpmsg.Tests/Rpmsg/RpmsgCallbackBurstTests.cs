using VirtioRpmsg.Platform;
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
        EchoEveryBurstMessage(loop, burst);
    }

    [Theory]
    [InlineData(RpmsgWaitStrategy.Interrupt)]
    [InlineData(RpmsgWaitStrategy.BusyPoll)]
    public void Send_CallbackBurstWithASendTimeoutShorterThanTheGrowthDelay_GrowsBeforeTheSendTimesOut(RpmsgWaitStrategy wait)
    {
        // The growth delay (60 s here, 5 ms normally) is longer than the sends' timeout: the backlog may grow once half
        // of a send's time is gone, or the two dispatchers wait on each other until every such send times out.
        using var loop = RpmsgLoopback.Create(
            host: o => (o.SendTimeout, o.WaitStrategy) = (TimeSpan.FromSeconds(3), wait),
            remote: o => (o.SendTimeout, o.WaitStrategy) = (TimeSpan.FromSeconds(3), wait),
            vringNum: VringNum);
        loop.Host.Rx.GrowAfter = loop.Remote.Rx.GrowAfter = TimeSpan.FromSeconds(60);
        EchoEveryBurstMessage(loop, burst: 200);
    }

    [Theory]
    [InlineData(3_000, 60_000, 1_000, 1_500)] // less than twice the delay left: half of it (up to 1 s may pass before the call)
    [InlineData(1_000, 5, 5, 5)] // enough left: the delay
    [InlineData(-1, 5, 5, 5)] // infinite
    [InlineData(0, 5, 0, 0)] // none left: at once (the send times out before it parks)
    public void CallbackSendBeganWaiting_GrowthDelayIsTheSmallerOfTheDelayAndHalfTheTimeLeft(int timeoutMs, int growAfterMs, int atLeastMs, int atMostMs)
    {
        using var loop = RpmsgLoopback.Create(vringNum: VringNum);
        var rx = loop.Host.Rx;
        rx.GrowAfter = TimeSpan.FromMilliseconds(growAfterMs);

        rx.CallbackSendBeganWaiting(Deadline.Within(timeoutMs < 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(timeoutMs)));

        Assert.InRange(rx.GrowthDelay, TimeSpan.FromMilliseconds(atLeastMs), TimeSpan.FromMilliseconds(atMostMs));
    }

    // The remote echoes; a host callback sends the burst; every echo must arrive, in order, with no callback error.
    private static void EchoEveryBurstMessage(RpmsgLoopback loop, int burst)
    {
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
        loop.WaitUntil(() => (Volatile.Read(ref burstSent) && echoes.Count == burst) || loop.Host.Counters.CallbackErrors + loop.Remote.Counters.CallbackErrors > 0,
            "every echo of the burst (or a callback error)", seconds: 60);
        Assert.Equal(0, loop.Host.Counters.CallbackErrors);
        Assert.Equal(0, loop.Remote.Counters.CallbackErrors);
        lock (echoes)
            Assert.Equal(Enumerable.Range(0, burst), echoes);
        Assert.Equal(0, loop.Host.Counters.Dropped);
    }

    /// <summary>
    /// A host callback blocked in a send for good: the host wakes only by a kick (a one-minute recheck), and the remote
    /// returns none of the host's tx buffers until <see cref="Release"/>. The remote's sender looks for buffers the host
    /// gave back every 10 ms (nobody polls it).
    /// </summary>
    private sealed class BlockedHostCallback : IDisposable
    {
        private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
        private readonly Task _poller;
        private readonly RpmsgEndpoint _source;

        internal BlockedHostCallback(RpmsgWaitStrategy hostWait, Action<RpmsgRxDispatcher>? hostRx = null)
        {
            Loop = RpmsgLoopback.Create(
                host: o => (o.WaitStrategy, o.IdleRecheckInterval, o.SendTimeout) = (hostWait, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(60)),
                remote: o => (o.WaitStrategy, o.IdleRecheckInterval) = (RpmsgWaitStrategy.CallerPoll, TimeSpan.FromMilliseconds(10)),
                vringNum: VringNum);
            hostRx?.Invoke(Loop.Host.Rx);
            Loop.Remote.CreateEndpoint(0x400);
            using var inCallback = new ManualResetEventSlim();
            var blocked = Loop.Host.CreateEndpoint(0x500, (ept, _, payload) =>
            {
                if (payload[0] != 9)
                    return;
                inCallback.Set();
                ept.SendTo(0x400, [1]); // returns once the remote polls (Release)
            });
            while (blocked.TrySendTo(0x400, [0]))
            {
            }
            _source = Loop.Remote.CreateEndpoint(0x401);
            _source.SendTo(0x500, [9]);
            _poller = hostWait == RpmsgWaitStrategy.CallerPoll ? Task.Run(() => Loop.Host.Poll()) : Task.CompletedTask;
            Assert.True(inCallback.Wait(Bound), "the callback did not run");
        }

        internal RpmsgLoopback Loop { get; }

        /// <summary>The remote sends <paramref name="count"/> messages to the blocked endpoint; true when all went within the bound.</summary>
        internal bool Flood(int count) => Task.Run(() =>
        {
            for (int i = 0; i < count; i++)
                _source.SendTo(0x500, [3], Bound);
        }).Wait(Bound);

        internal bool TrySendOneMore() => _source.TrySendTo(0x500, [3]);

        /// <summary>The remote gives the host its tx buffers back: the callback's send goes, and everything is delivered.</summary>
        internal void Release(int delivered)
        {
            Assert.True(Task.Run(() => Loop.Remote.Poll()).Wait(Bound));
            Assert.True(_poller.Wait(Bound), "the host's Poll did not end");
            Loop.WaitUntil(() => Loop.Host.Counters.RxMessages == delivered, "every message delivered");
            Assert.Equal(0, Loop.Host.Counters.CallbackErrors);
        }

        public void Dispose() => Loop.Dispose();
    }

    [Theory]
    [InlineData(RpmsgWaitStrategy.Interrupt)]
    [InlineData(RpmsgWaitStrategy.CallerPoll)]
    public void Send_CallbackBlocked_ParksThePeersMessagesAsTheyCome_NotAtTheRecheckInterval(RpmsgWaitStrategy hostWait)
    {
        // The remote's 200 sends need the host to park each ring's worth as it arrives.
        using var rig = new BlockedHostCallback(hostWait);

        Assert.True(rig.Flood(200), "the remote's sends waited for the host's recheck interval");

        rig.Release(delivered: 201);
    }

    [Theory]
    [InlineData(RpmsgWaitStrategy.Interrupt)]
    [InlineData(RpmsgWaitStrategy.CallerPoll)]
    public void Send_CallbackBlockedWithTheBacklogFullBeforeItMayGrow_WaitsInsteadOfSpinning(RpmsgWaitStrategy hostWait)
    {
        // The remote fills the host's fixed slots and its ring: until the backlog may grow, the callback's send has
        // nothing to do but wait (for its buffers, or for the growth).
        int passes = 0;
        using var rig = new BlockedHostCallback(hostWait, rx =>
        {
            rx.GrowAfter = TimeSpan.FromSeconds(60);
            rx.Parking = () => Interlocked.Increment(ref passes);
        });
        const int Fill = 2 * VringNum + VringNum; // the 32 fixed slots, then the ring's 16 buffers
        Assert.True(rig.Flood(Fill), "the host did not park the fixed slots' worth");
        Assert.False(rig.TrySendOneMore(), "the host's ring is not full");

        // Each pass parks nothing: a spinning sender makes thousands in this bound, a waiting one none (nothing rings).
        int before = Volatile.Read(ref passes);
        bool spun = SpinWait.SpinUntil(() => Volatile.Read(ref passes) - before > 50, TimeSpan.FromMilliseconds(500));

        rig.Release(delivered: 1 + Fill);
        Assert.False(spun, $"the callback's send looked {Volatile.Read(ref passes) - before} times with nothing to park");
    }
}
