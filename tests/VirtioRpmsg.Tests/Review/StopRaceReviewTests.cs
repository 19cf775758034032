using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (stoprace, item 1), device level: <see cref="RpmsgDevice.Stop"/> (and Dispose) returned at once when another
/// thread was already stopping the device, while that thread had not yet joined the dispatcher, so a caller went on (a
/// recovery started a fresh device over the same rings and doorbell) under a device still running. It now returns once
/// the device is stopped, except on a thread that stop itself waits for (the stopping thread, a callback, a Probe, a
/// sender), where it still returns at once instead of waiting for itself. The threads are ordered with hooks and events.
/// </summary>
public sealed class StopRaceReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Stop_WhileAnotherThreadsStopIsUnderWay_ReturnsOnceTheDispatcherIsJoined(bool dispose)
    {
        using var loop = RpmsgLoopback.Create();
        var host = loop.Host;
        using var inHandler = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        using var waiting = new ManualResetEventSlim();
        int first = 0;
        // The first stop is held in its StateChanged handler: the state is Stopped, its dispatcher not joined yet.
        host.StateChanged += (_, state) =>
        {
            if (state == RpmsgDeviceState.Stopped && Interlocked.Exchange(ref first, 1) == 0)
            {
                inHandler.Set();
                release.Wait(Bound);
            }
        };
        host.WaitingForStop = waiting.Set;
        var firstStop = Task.Run(() => host.Stop("first"));
        Assert.True(inHandler.Wait(Bound), "the first Stop never raised Stopped");
        Assert.True(host.DispatcherThreadAlive);

        var second = Task.Run(() =>
        {
            if (dispose)
                host.Dispose();
            else
                host.Stop("second");
            return (DispatcherAlive: host.DispatcherThreadAlive, FirstEnded: firstStop.IsCompleted);
        });
        try
        {
            Assert.True(SpinWait.SpinUntil(() => waiting.IsSet || second.IsCompleted, Bound), "the second stop neither returned nor waited");
        }
        finally
        {
            release.Set();
        }

        Assert.True(second.Wait(Bound), "the second stop never returned once the first ended");
        Assert.False(second.Result.DispatcherAlive, "the second stop returned while the device's dispatcher thread still ran");
        Assert.True(waiting.IsSet, "the second stop did not wait for the first");
        Assert.True(firstStop.Wait(Bound), "the first stop never returned");
        Assert.Equal("first", host.StateReason);
    }

    // Not too wide: the thread running the stop (here in its StateChanged handler) is not made to wait for itself.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Stop_FromAStoppedHandlerOnTheStoppingThread_ReturnsAtOnce(bool dispose)
    {
        using var loop = RpmsgLoopback.Create();
        var host = loop.Host;
        string outcome = "the handler never ran";
        host.StateChanged += (device, state) =>
        {
            if (state != RpmsgDeviceState.Stopped)
                return;
            if (dispose)
                device.Dispose();
            else
                device.Stop("again");
            outcome = "returned";
        };

        Assert.True(Task.Run(() => host.Stop("first")).Wait(Bound), "a Stop whose Stopped handler stops the device again never returned");
        Assert.Equal("returned", outcome);
        Assert.False(host.DispatcherThreadAlive);
    }

    // A Probe on the application's thread (a late RegisterDriver) that another thread's stop waits for: its own Stop
    // returns at once, although that stop has taken the channel off the device's list already.
    [Fact]
    public void Stop_FromAProbeThatAnotherThreadsStopWaitsFor_ReturnsWithoutDeadlock()
    {
        using var loop = RpmsgLoopback.Create();
        var host = loop.Host;
        loop.Remote.CreateNamedEndpoint("svc-late", 0x600, null);
        Assert.True(SpinWait.SpinUntil(() => host.UnboundServiceCount == 1, Bound), "the remote's service was never announced");
        using var probing = new ManualResetEventSlim();
        using var waitedFor = new ManualResetEventSlim();
        host.WaitingForProbe = waitedFor.Set;
        string outcome = "the probe never ran";
        var register = Task.Run(() => host.RegisterDriver(new RpmsgServiceDriver("svc-late")
        {
            Probe = _ =>
            {
                probing.Set();
                if (!waitedFor.Wait(Bound))
                {
                    outcome = "the other stop never waited for this probe";
                    return;
                }
                host.Stop("from the probe");
                outcome = "returned";
            },
        }));
        Assert.True(probing.Wait(Bound), "the probe never ran");

        var stop = Task.Run(() => host.Stop("other"));

        Assert.True(register.Wait(Bound), "the Stop in a probe that another thread's stop waits for never returned");
        Assert.Equal("returned", outcome);
        Assert.True(stop.Wait(Bound), "the other thread's stop never returned");
        Assert.False(host.DispatcherThreadAlive);
    }
}
