using VirtioRpmsg;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.DoorbellHandOverKit;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Under Interrupt, parked <c>ReceiveAsync</c>s get a pool work item that waits on the doorbell for them and runs their
/// continuations on its own thread (<see cref="RpmsgDoorbellAsyncHolder"/>): every message still arrives in order, a
/// continuation that blocks holds neither the ring nor the doorbell, and every way out (cancellation, idle, stop, a
/// failing doorbell) gives the doorbell back.
/// </summary>
public class RpmsgDoorbellAsyncHolderTests
{
    // A long idle re-check: a wait that only ends at the re-check would outlast the tests' bounds.
    // The holder stays until a test's message came, however slow the machine, unless a test shortens its idle hold.
    private static RpmsgLoopback Loop(bool readerWaits = true, Action<RpmsgDeviceOptions>? remote = null, Func<IDoorbell, IDoorbell>? hostDoorbell = null)
    {
        var loop = RpmsgLoopback.Create(
            host: o =>
            {
                o.WaitStrategy = RpmsgWaitStrategy.Interrupt;
                o.IdleRecheckInterval = TimeSpan.FromSeconds(120);
                o.ReaderWaitsOnDoorbell = readerWaits;
            },
            remote: remote,
            hostDoorbell: hostDoorbell);
        loop.Host.Rx.HandOver.Async.IdleHold = Bound;
        return loop;
    }

    /// <summary>A remote that only moves when polled: nothing but the host's own doorbell handling ends a wait.</summary>
    private static void CallerPoll(RpmsgDeviceOptions o) => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll;

    /// <summary>Starts a ReceiveAsync (from a pool thread) and waits until the async holder waits on the doorbell for it.</summary>
    private static Task<RpmsgReceiveResult> ParkedReceive(RpmsgLoopback loop, RpmsgEndpoint queue, byte[] buffer, CancellationToken token = default)
    {
        var receive = Task.Run(async () => await queue.ReceiveAsync(buffer, token));
        AwaitHeld(loop, () => !receive.IsCompleted);
        Assert.True(loop.Host.Rx.HandOver.Async.IsScheduled, $"a reader other than the async holder holds the doorbell ({loop.Host.Rx.HandOver})");
        return receive;
    }

    /// <summary>Async round trips with an echoing remote until <paramref name="inline"/> continuations ran on the holder.</summary>
    private static async Task<int> PingPongUntilInline(RpmsgEndpoint queue, uint peer, RpmsgDoorbellAsyncHolder holder, long inline)
    {
        var buffer = new byte[16];
        var until = DateTime.UtcNow + Bound;
        int i = 0;
        while (holder.InlineCompletions < inline)
        {
            Assert.True(DateTime.UtcNow < until, $"{holder.InlineCompletions} of {i} continuations ran on the holder");
            i++;
            await queue.SendToAsync(peer, BitConverter.GetBytes(i));
            var r = await queue.ReceiveAsync(buffer);
            Assert.Equal(4, r.Length);
            Assert.Equal(i, BitConverter.ToInt32(buffer)); // in order, none lost or repeated
        }
        return i;
    }

    private static void Echo(RpmsgEndpoint endpoint, uint source, ReadOnlySpan<byte> payload) => endpoint.SendTo(source, payload);

    [Fact]
    public async Task AsyncPingPong_ContinuationsRunOnTheHoldersThread_AndEveryMessageArrivesInOrder()
    {
        using var loop = Loop();
        loop.Remote.CreateEndpoint(0x501, Echo);
        var queue = loop.Host.CreateEndpoint(0x500);
        var holder = loop.Host.Rx.HandOver.Async;
        // On a pool thread, as an application's async code runs: no test framework's SynchronizationContext.
        int roundTrips = await Task.Run(() => PingPongUntilInline(queue, 0x501, holder, inline: 20));
        Assert.True(loop.Host.Rx.HandOver.Takes >= 20, $"the holder took the doorbell {loop.Host.Rx.HandOver.Takes} times in {roundTrips} round trips");
    }

    [Fact]
    public async Task OptionOff_NoContinuationRunsOnAHolder()
    {
        using var loop = Loop(readerWaits: false);
        loop.Remote.CreateEndpoint(0x501, Echo);
        var queue = loop.Host.CreateEndpoint(0x500);
        var buffer = new byte[16];
        for (int i = 0; i < 200; i++)
        {
            await queue.SendToAsync(0x501, BitConverter.GetBytes(i));
            Assert.Equal(i, BitConverter.ToInt32(buffer.AsSpan(0, (await queue.ReceiveAsync(buffer)).Length)));
        }
        Assert.Equal(0, loop.Host.Rx.HandOver.Async.InlineCompletions);
        Assert.Equal(0, loop.Host.Rx.HandOver.Takes);
    }

    [Fact]
    public void AContinuationThatBlocks_HoldsNeitherTheRingNorTheDoorbell()
    {
        using var loop = Loop(remote: CallerPoll);
        var queue = loop.Host.CreateEndpoint(0x500);
        using var other = new ManualResetEventSlim();
        loop.Host.CreateEndpoint(0x502, (_, _, _) => other.Set());
        var holder = loop.Host.Rx.HandOver.Async;
        var sender = loop.Remote.CreateEndpoint(0x501);
        var buffer = new byte[16];
        long inlineBefore = -1;
        using var blocking = new ManualResetEventSlim();
        var continuation = Task.Run(async () =>
        {
            await queue.ReceiveAsync(buffer);
            inlineBefore = holder.InlineCompletions;
            blocking.Set();
            // Blocks the holder's thread until another endpoint's message is delivered: only someone else can deliver it.
            return other.Wait(Bound);
        });
        AwaitHeld(loop, () => !continuation.IsCompleted, sender);
        sender.SendTo(0x500, [1]);
        loop.Remote.Poll();
        // Sent once the continuation blocks: in the holder's Poll that completed the receive, a callback would have sent
        // the completion to the pool (RpmsgDoorbellAsyncHolder.BeforeCallback).
        Assert.True(blocking.Wait(Bound), "the continuation never ran");
        sender.SendTo(0x502, [2]);
        loop.Remote.Poll();
        Assert.True(continuation.Wait(Bound * 2), "the continuation still blocks");
        Assert.True(continuation.Result, "another endpoint's message waited for the blocked continuation");
        Assert.Equal(1, inlineBefore); // it ran on the holder's thread
    }

    [Fact]
    public void AHolderTheDispatcherDidNotWaitFor_LeavesTheReadersAskingAgain()
    {
        using var loop = Loop(remote: CallerPoll);
        var queue = loop.Host.CreateEndpoint(0x500);
        var handOver = loop.Host.Rx.HandOver;
        int late = 1;
        // The first holder runs only once the dispatcher took its lend back (a pool slower than the dispatcher's look).
        handOver.Async.BeforeTake = () =>
        {
            if (Interlocked.Exchange(ref late, 0) == 1)
                SpinWait.SpinUntil(() => handOver.IsHeldByDispatcher && !handOver.IsLent, Bound);
        };
        var receive = ParkedReceive(loop, queue, new byte[16]);
        Assert.Equal(0, Volatile.Read(ref late)); // the late holder ran, and a later one holds the doorbell
        loop.Remote.CreateEndpoint(0x601).SendTo(0x500, [1, 2, 3]);
        loop.Remote.Poll();
        Assert.True(receive.Wait(Bound));
        Assert.Equal(3, receive.Result.Length);
        Assert.Equal(1, handOver.Async.InlineCompletions);
    }

    [Fact]
    public void Cancellation_CompletesTheReceive_AndTheHolderLeaves()
    {
        using var loop = Loop(remote: CallerPoll);
        var queue = loop.Host.CreateEndpoint(0x500);
        using var cts = new CancellationTokenSource();
        var receive = ParkedReceive(loop, queue, new byte[16], cts.Token);
        cts.Cancel();
        Assert.True(((IAsyncResult)receive).AsyncWaitHandle.WaitOne(Bound), "the receive still waits after its cancellation");
        Assert.True(receive.IsCanceled, $"the receive ended {receive.Status}");
        var handOver = loop.Host.Rx.HandOver;
        loop.WaitUntil(() => !handOver.Async.IsScheduled && handOver.IsHeldByDispatcher, "the holder left and the dispatcher has the doorbell");
        // The dispatcher serves the next receive.
        var next = queue.ReceiveAsync(new byte[16]).AsTask();
        loop.Remote.CreateEndpoint(0x601).SendTo(0x500, [3, 4]);
        loop.Remote.Poll();
        Assert.True(next.Wait(Bound));
        Assert.Equal(2, next.Result.Length);
    }

    [Fact]
    public void AQuietLink_TheHolderLeavesAfterItsIdleHold_AndTheParkedReceiveStillGetsItsMessage()
    {
        using var loop = Loop(remote: CallerPoll);
        var queue = loop.Host.CreateEndpoint(0x500);
        var handOver = loop.Host.Rx.HandOver;
        handOver.Async.IdleHold = RpmsgDoorbellAsyncHolder.DefaultIdleHold;
        var receive = Task.Run(async () => await queue.ReceiveAsync(new byte[16]));
        var poker = loop.Remote.CreateEndpoint(0x601);
        // Its lend comes at the dispatcher's next idle moment, after a ring (dropped pokes); the holder may leave at once.
        loop.WaitUntil(() =>
        {
            poker.SendTo(0x5FF, [0]);
            return handOver.Takes > 0;
        }, "the holder took the doorbell");
        // No pool thread stays blocked while the application awaits a quiet link.
        loop.WaitUntil(() => !handOver.Async.IsScheduled && handOver.IsHeldByDispatcher, "the holder left after its idle hold");
        Assert.False(receive.IsCompleted);
        poker.SendTo(0x500, [9]);
        loop.Remote.Poll();
        Assert.True(receive.Wait(Bound));
        Assert.Equal(1, receive.Result.Length);
    }

    [Fact]
    public void Stop_EndsTheHoldersWait_AndTheReceiveReportsIt()
    {
        using var loop = Loop(remote: CallerPoll);
        var queue = loop.Host.CreateEndpoint(0x500);
        var receive = ParkedReceive(loop, queue, new byte[16]);
        loop.Host.Stop("test stops");
        Assert.False(loop.Host.Rx.HandOver.IsHeldByReader, "Stop returned while the holder still waited on the doorbell");
        Assert.True(((IAsyncResult)receive).AsyncWaitHandle.WaitOne(Bound), "the receive still waits after Stop");
        var e = Assert.Throws<RpmsgDeviceUnavailableException>(() => receive.GetAwaiter().GetResult());
        Assert.Contains("test stops", e.Message);
    }

    [Fact]
    public void DoorbellFailing_UnderTheHolder_BreaksTheDevice_AndTheReceiveReportsIt()
    {
        FailingDoorbell? bell = null;
        using var loop = Loop(remote: CallerPoll, hostDoorbell: d => bell = new FailingDoorbell(d));
        var queue = loop.Host.CreateEndpoint(0x500);
        var receive = ParkedReceive(loop, queue, new byte[16]);
        bell!.Gone = true;
        loop.Remote.CreateEndpoint(0x601).SendTo(0x5FF, [0]); // a ring: the holder's wait returns into the failure
        // The break closes the queue on the holder's own thread: that completion runs there, after its wait.
        Assert.True(((IAsyncResult)receive).AsyncWaitHandle.WaitOne(Bound), "the receive still waits on a failed doorbell");
        var e = Assert.Throws<RpmsgDeviceUnavailableException>(() => receive.GetAwaiter().GetResult());
        Assert.Contains("gone for the test", e.Message);
        Assert.Equal(RpmsgDeviceState.Broken, loop.Host.State);
        Assert.Equal(FaultRule.DoorbellClosed, loop.Host.Fault?.Rule); // the peer is gone: not a failure of this side
    }
}
