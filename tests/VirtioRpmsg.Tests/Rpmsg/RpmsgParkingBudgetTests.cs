using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// The parking backlog grows within the queue budget (MaxQueuedBytes) shared with the endpoint queues. Its
/// messages, once delivered, are charged again by the queues they land in: the backlog must not keep their slots'
/// charge until it is empty, or a burst the peer was allowed to send (its buffers went back) is dropped at the end.
/// </summary>
public class RpmsgParkingBudgetTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private const int Parked = 48; // more than the 32 fixed slots (one per buffer at vringNum 16): the backlog grows once
    private const int BufferSize = 2048;
    private const long OneGrowth = 32 * (BufferSize - 16 + 16); // 32 slots added, each a payload slot and its entry

    [Fact]
    public void ParkPending_GrownBacklogDeliveredIntoAQueue_DropsNothingTheBudgetCovers()
    {
        // Room for one growth and little more: far below what the burst costs in the queue (48 x (1 + 64) bytes)
        // plus the growth, but far above what it costs once the backlog's charge moves with its messages.
        using var loop = RpmsgLoopback.Create(
            host: o => o.MaxQueuedBytes = OneGrowth + 1_000,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll, // returns the host's tx buffers only when told
            hostBufferSize: BufferSize,
            remoteBufferSize: BufferSize,
            vringNum: 16);
        loop.Remote.CreateEndpoint(0x400); // sink, a queue
        var queue = loop.Host.CreateEndpoint(0x501);
        bool callbackSent = false;
        var blocked = loop.Host.CreateEndpoint(0x500, (ept, _, _) =>
        {
            ept.SendTo(0x400, [1], Bound); // no free tx buffer: parks what arrives meanwhile
            Volatile.Write(ref callbackSent, true);
        });
        while (blocked.TrySendTo(0x400, [0]))
        {
        }
        long waits = loop.Host.Counters.TxBufferWaits;
        long rx = loop.Host.Counters.RxMessages;
        var source = loop.Remote.CreateEndpoint(0x401);
        source.SendTo(0x500, [9]);
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, waits);

        // Everything after the trigger arrives while the callback is blocked: parked (counted), none batched.
        var burst = Task.Run(() =>
        {
            for (int i = 0; i < Parked; i++)
                source.SendTo(0x501, [(byte)i], Bound);
        });
        Assert.True(burst.Wait(Bound), "the remote's burst was not parked");
        Assert.True(SpinWait.SpinUntil(() => loop.Host.Counters.RxMessages >= rx + Parked, Bound), "the burst was not parked in full");

        Assert.True(Task.Run(() => loop.Remote.Poll()).Wait(Bound)); // gives the host its tx buffers back
        // Read only once the whole backlog is in the queue: reading earlier would refund what the delivery needs.
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref callbackSent) && !loop.Host.Rx.HasBacklog, Bound), "the backlog was not delivered");
        var received = new List<int>();
        var buffer = new byte[16];
        while (received.Count < Parked && queue.TryReceive(buffer, TimeSpan.Zero, out _))
            received.Add(buffer[0]);
        Assert.Equal(0, loop.Host.Counters.Dropped);
        Assert.Equal(Enumerable.Range(0, Parked), received);
        Assert.True(SpinWait.SpinUntil(() => loop.Host.QueueBudget.Used == 0, Bound), $"{loop.Host.QueueBudget.Used} bytes still charged");
    }

    // The peer sends to the host's 0x500 whenever it has a buffer, until the host callback's send ended.
    private static Task FloodUntil(RpmsgEndpoint source, ManualResetEventSlim done) => Task.Run(() =>
    {
        while (!done.IsSet)
        {
            if (!source.TrySendTo(0x500, [3]))
                Thread.Yield();
        }
    });

    [Fact]
    public void Send_CallbackWhoseBacklogCannotGrowTimesOut_SayingSoWithTheLimit()
    {
        // The budget's minimum: the 32 fixed slots (512-byte buffers) double twice, to 128; then growth is refused.
        const long limit = ushort.MaxValue + 64L;
        using var loop = RpmsgLoopback.Create(
            host: o => o.MaxQueuedBytes = limit,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll, // never returns the host's tx buffers
            vringNum: 16);
        loop.Remote.CreateEndpoint(0x400);
        TimeoutException? timedOut = null;
        using var done = new ManualResetEventSlim();
        var blocked = loop.Host.CreateEndpoint(0x500, (ept, _, payload) =>
        {
            if (payload[0] != 9)
                return;
            try
            {
                ept.SendTo(0x400, [1], TimeSpan.FromSeconds(5)); // parking 144 takes milliseconds: room for a loaded machine
            }
            catch (TimeoutException e)
            {
                timedOut = e;
            }
            done.Set();
        });
        while (blocked.TrySendTo(0x400, [0]))
        {
        }
        var source = loop.Remote.CreateEndpoint(0x401);
        source.SendTo(0x500, [9]);
        // The peer sends until the host parks nothing more (128 parked, 16 in the ring), then the callback times out.
        var flood = FloodUntil(source, done);
        Assert.True(done.Wait(Bound), "the callback's send neither succeeded nor timed out");
        Assert.True(flood.Wait(Bound));
        Assert.NotNull(timedOut);
        Assert.Contains("could not park more of the peer's messages (128 parked", timedOut.Message);
        Assert.Contains($"MaxQueuedBytes {limit} reached", timedOut.Message);
    }

    [Fact]
    public void Send_CallbackTimesOutAfterAnEarlierCallbacksRefusedGrowth_SaysNothingOfParking()
    {
        const long limit = ushort.MaxValue + 64L; // as above: growth refused at 128 parked
        using var loop = RpmsgLoopback.Create(
            host: o => o.MaxQueuedBytes = limit,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll, // never returns the host's tx buffers
            vringNum: 16);
        loop.Remote.CreateEndpoint(0x400);
        TimeoutException? first = null, second = null;
        using var done = new ManualResetEventSlim();
        using var secondDone = new ManualResetEventSlim();
        var blocked = loop.Host.CreateEndpoint(0x500, (ept, _, payload) =>
        {
            if (payload[0] is not (9 or 8))
                return;
            try
            {
                ept.SendTo(0x400, [1], payload[0] == 9 ? TimeSpan.FromSeconds(5) : TimeSpan.Zero);
            }
            catch (TimeoutException e) when (payload[0] == 9)
            {
                first = e;
            }
            catch (TimeoutException e)
            {
                second = e;
            }
            (payload[0] == 9 ? done : secondDone).Set();
        });
        while (blocked.TrySendTo(0x400, [0]))
        {
        }
        var source = loop.Remote.CreateEndpoint(0x401);
        source.SendTo(0x500, [9]);
        var flood = FloodUntil(source, done);
        Assert.True(done.Wait(Bound), "the first callback's send neither succeeded nor timed out");
        Assert.True(flood.Wait(Bound));
        // Delivered after the backlog (whose callbacks do nothing): a send with no time at all, nothing parked.
        source.SendTo(0x500, [8], Bound);
        Assert.True(secondDone.Wait(Bound), "the second callback did not run");

        Assert.NotNull(first);
        Assert.Contains("could not park more", first.Message);
        Assert.NotNull(second);
        Assert.DoesNotContain("could not park more", second.Message);
    }
}
