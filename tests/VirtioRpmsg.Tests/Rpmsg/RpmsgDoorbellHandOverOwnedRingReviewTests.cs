using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.DoorbellHandOverKit;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Review (asyncwaits): a doorbell holder whose Poll finds the ring owned by an application's Poll waits for that Poll to
/// finish (it may deliver the holder's message with no kick left). It must stop waiting as soon as what it waits for is
/// there: its message queued, or (the async holder) a receive its own Poll completed. Otherwise it waits out the other
/// Poll's callbacks, and one of them that waits for that reader or continuation never returns.
/// </summary>
public sealed class RpmsgDoorbellHandOverOwnedRingReviewTests
{
    [Fact]
    public void AHoldersMessageDeliveredByAnApplicationsPoll_EndsItsWait_WhileThatPollStillRunsACallback()
    {
        using var loop = InterruptLoopOnOneWaiterDoorbells(RpmsgWaitStrategy.Interrupt);
        var remoteBell = (HookedDoorbell)loop.RemoteBell;
        var queue = loop.Host.CreateEndpoint(0x500);
        var peer = loop.Remote.CreateEndpoint(0x501);
        var reader = new Reader(queue).Task;
        AwaitHeld(loop, () => !reader.IsCompleted);

        using var inFirst = new ManualResetEventSlim();
        using var go = new ManualResetEventSlim();
        bool sawReader = false;
        loop.Host.CreateEndpoint(0x600, (_, _, payload) =>
        {
            if (payload[0] == 0)
            {
                inFirst.Set();
                go.Wait(Bound);
                return;
            }
            // The reader's message is queued (this Poll delivered it just before): wake the holder, and wait for it.
            loop.RemoteDoorbell.Ring();
            sawReader = ((IAsyncResult)reader).AsyncWaitHandle.WaitOne(Bound);
        });

        // An application's Poll takes the ring (its first callback holds it there) while the holder waits on the doorbell.
        remoteBell.Muted = true;
        peer.SendTo(0x600, [0]);
        var app = OnThread(() => loop.Host.Poll());
        Assert.True(inFirst.Wait(Bound), "the application's Poll did not run the first callback");
        peer.SendTo(0x500, [1, 2, 3]);
        peer.SendTo(0x600, [1]);
        remoteBell.Muted = false;
        go.Set();

        Assert.True(app.Wait(Bound), "the application's Poll did not end");
        Assert.True(sawReader, $"the holder waited for the application's Poll with its message queued ({loop.Host.Rx.HandOver})");
        Assert.True(reader.Wait(Bound));
        Assert.Equal(new RpmsgReceiveResult(0x501, 3), reader.Result);
    }

    [Fact]
    public void AReceiveTheAsyncHoldersPollCompleted_ContinuesWhileAnApplicationsPollThatTookTheRingNextRunsACallback()
    {
        using var loop = InterruptLoopOnOneWaiterDoorbells(RpmsgWaitStrategy.Interrupt);
        var handOver = loop.Host.Rx.HandOver;
        handOver.Async.IdleHold = Bound;
        var queue = loop.Host.CreateEndpoint(0x500);
        var peer = loop.Remote.CreateEndpoint(0x501);
        using var continued = new ManualResetEventSlim();
        using var inCallback = new ManualResetEventSlim();
        bool sawContinuation = false;
        loop.Host.CreateEndpoint(0x600, (_, _, _) =>
        {
            inCallback.Set();
            sawContinuation = continued.Wait(Bound);
        });
        var receive = ReceiveThenSet(queue, continued);
        AwaitHeld(loop, () => !continued.IsSet);

        // The holder's Poll completes the receive (its continuation deferred to the holder) and hands the ring back;
        // right then an application's Poll takes the ring and runs a callback that waits for that continuation.
        Task<int>? app = null;
        int once = 0;
        loop.Host.Rx.Released = () =>
        {
            if (!handOver.IsHeldByCurrentThread || !handOver.Async.HasCompletions || Interlocked.Exchange(ref once, 1) != 0)
                return;
            peer.SendTo(0x600, [2]);
            app = OnThread(() => loop.Host.Poll());
            inCallback.Wait(Bound);
        };
        peer.SendTo(0x500, [1]);

        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref app) is not null, Bound), $"the holder's Poll did not complete the receive ({handOver})");
        Assert.True(app!.Wait(Bound), "the application's Poll did not end");
        Assert.True(sawContinuation, $"the continuation waited for the application's Poll to end ({handOver})");
        Assert.True(receive.Wait(Bound));
    }

    private static async Task ReceiveThenSet(RpmsgEndpoint endpoint, ManualResetEventSlim done)
    {
        await endpoint.ReceiveAsync(new byte[16]);
        done.Set();
    }
}
