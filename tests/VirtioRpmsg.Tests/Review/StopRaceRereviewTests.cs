using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.DoorbellHandOverKit;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Re-review (rereview-h) of stoprace: a second Stop now waits, without a bound, for the first to end, unless the
/// calling thread is one that first stop waits for. Two ways that wait closed a cycle that used to end at once
/// (the second Stop returned): two devices whose stops each wait, through a handler or callback, for the other's
/// stop; and a reader holding the doorbell (Interrupt hand-over), whose Broken handler stops the device while
/// another thread's Stop waits for that reader to give the doorbell back. Ordered with events, bounded by 30 s;
/// on a failure the deadlocked threads and their loopbacks are left behind (disposing them would wait as they do).
/// </summary>
public sealed class StopRaceRereviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    // T1 stops A, T2 stops B; A's Stopped handler (on T1) stops B, B's (on T2) stops A. Each second Stop waited for the
    // other thread's stop, whose handler waited for this one's.
    [Fact]
    public void Stop_TwoDevicesWhoseStoppedHandlersStopEachOther_OnTwoThreads_BothReturn()
    {
        var loopA = RpmsgLoopback.Create();
        var loopB = RpmsgLoopback.Create();
        var (a, b) = (loopA.Host, loopB.Host);
        var bothStopping = new CountdownEvent(2);
        CrossStopInStoppedHandler(a, b, bothStopping);
        CrossStopInStoppedHandler(b, a, bothStopping);

        var stopA = Task.Factory.StartNew(() => a.Stop("T1"), TaskCreationOptions.LongRunning);
        var stopB = Task.Factory.StartNew(() => b.Stop("T2"), TaskCreationOptions.LongRunning);

        Assert.True(stopA.Wait(Bound), "T1's Stop of A never returned: its handler's Stop of B waits for T2, whose handler's Stop of A waits for T1");
        Assert.True(stopB.Wait(Bound), "T2's Stop of B never returned");
        Assert.False(a.DispatcherThreadAlive);
        Assert.False(b.DispatcherThreadAlive);
        loopA.Dispose();
        loopB.Dispose();
    }

    private static void CrossStopInStoppedHandler(RpmsgDevice own, RpmsgDevice other, CountdownEvent bothStopping)
    {
        own.StateChanged += (_, state) =>
        {
            if (state != RpmsgDeviceState.Stopped)
                return;
            bothStopping.Signal();
            // Both stops are under way (each device Stopped, its stopping thread here): then each stops the other.
            if (bothStopping.Wait(Bound))
                other.Stop("from the other's handler");
        };
    }

    // The same through the dispatchers: A's receive callback stops B while another thread stops B, and B's stops A while
    // another thread stops A. Each stop joins its dispatcher, which waited for the other stop.
    [Fact]
    public void Stop_TwoDevicesWhoseReceiveCallbacksStopEachOther_WhileTwoThreadsStopThem_AllReturn()
    {
        var loopA = RpmsgLoopback.Create();
        var loopB = RpmsgLoopback.Create();
        var (a, b) = (loopA.Host, loopB.Host);
        var inCallbacks = new CountdownEvent(2);
        var bothStopped = new ManualResetEventSlim();
        var callbackA = CrossStopInCallback(a, b, inCallbacks, bothStopped);
        var callbackB = CrossStopInCallback(b, a, inCallbacks, bothStopped);
        loopA.Remote.CreateEndpoint(0x601).SendTo(0x500, [1]);
        loopB.Remote.CreateEndpoint(0x601).SendTo(0x500, [1]);
        Assert.True(inCallbacks.Wait(Bound), "the callbacks never ran");

        var stopA = Task.Factory.StartNew(() => a.Stop("T1"), TaskCreationOptions.LongRunning);
        var stopB = Task.Factory.StartNew(() => b.Stop("T2"), TaskCreationOptions.LongRunning);
        Assert.True(SpinWait.SpinUntil(() => a.State == RpmsgDeviceState.Stopped && b.State == RpmsgDeviceState.Stopped, Bound), "the stops never began");
        bothStopped.Set();

        Assert.True(stopA.Wait(Bound), "T1's Stop of A never returned: A's callback's Stop of B waits for T2, which joins B's dispatcher, whose Stop of A waits for T1");
        Assert.True(stopB.Wait(Bound), "T2's Stop of B never returned");
        Assert.Equal("returned", callbackA.Task.Result);
        Assert.Equal("returned", callbackB.Task.Result);
        loopA.Dispose();
        loopB.Dispose();
    }

    private static TaskCompletionSource<string> CrossStopInCallback(RpmsgDevice own, RpmsgDevice other, CountdownEvent inCallbacks, ManualResetEventSlim bothStopped)
    {
        var outcome = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        own.CreateEndpoint(0x500, (_, _, _) =>
        {
            inCallbacks.Signal();
            if (!bothStopped.Wait(Bound))
            {
                outcome.TrySetResult("the stops never began");
                return;
            }
            other.Stop("from the other's callback");
            outcome.TrySetResult("returned");
        });
        return outcome;
    }

    // A reader holding the doorbell (Interrupt) sees it fail and breaks the device on its thread; its Broken handler
    // stops the device, while another thread's Stop waits for that reader to give the doorbell back (AwaitReaderGone).
    [Fact]
    public void Stop_FromTheBrokenHandlerOfTheReaderHoldingTheDoorbell_WhileAnotherThreadStops_BothReturn()
    {
        FailingDoorbell? bell = null;
        var loop = RpmsgLoopback.Create(
            host: o =>
            {
                o.WaitStrategy = RpmsgWaitStrategy.Interrupt;
                o.IdleRecheckInterval = TimeSpan.FromSeconds(120);
            },
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            hostDoorbell: d => bell = new FailingDoorbell(d));
        var host = loop.Host;
        var queue = host.CreateEndpoint(0x500);
        var reader = new Reader(queue);
        AwaitHeld(loop, () => !reader.Task.IsCompleted);
        var brokenOnReader = new ManualResetEventSlim();
        string outcome = "the handler never ran on the reader's thread";
        host.StateChanged += (_, state) =>
        {
            if (state != RpmsgDeviceState.Broken || Environment.CurrentManagedThreadId != reader.Thread)
                return;
            brokenOnReader.Set();
            if (!SpinWait.SpinUntil(() => host.State == RpmsgDeviceState.Stopped, Bound))
            {
                outcome = "the other thread never stopped the device";
                return;
            }
            host.Stop("from the reader's handler");
            outcome = "returned";
        };
        bell!.Gone = true;
        loop.Remote.CreateEndpoint(0x601).SendTo(0x5FF, [0]); // a ring: the holder's wait returns into the failure
        Assert.True(brokenOnReader.Wait(Bound), "the reader's doorbell wait did not break the device on its thread");

        var stop = Task.Factory.StartNew(() => host.Stop("other"), TaskCreationOptions.LongRunning);

        Assert.True(((IAsyncResult)reader.Task).AsyncWaitHandle.WaitOne(Bound),
            "the reader never returned: its handler's Stop waits for the other thread's, which waits for the reader to give the doorbell back");
        Assert.Equal("returned", outcome);
        Assert.True(stop.Wait(Bound), "the other thread's Stop never returned");
        Assert.False(host.DispatcherThreadAlive);
        Assert.False(host.Rx.HandOver.IsHeldByReader);
        loop.Dispose();
    }
}
