using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Lifecycle;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (stoprace), link level. Item 1: <see cref="RpmsgLink.RecoverVdevAsync"/> racing the application's
/// <c>Device.Stop()</c> started the fresh device over the rings and doorbell of a device whose stop was still under way
/// (its Dispose returned at once); a recovery from a StateChanged(Stopped) handler on the stopping thread was not refused.
/// Item 2: <see cref="RpmsgLink.Dispose"/> from a Probe, or from a StateChanged handler of a sender, or of the stopping
/// thread, while a recovery stops that device, waited for the recovery, which waited for that thread: both hung.
/// On a failure a hung thread may be left behind; each test still fails within its bound.
/// </summary>
public sealed class StopRaceLinkReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    internal static RpmsgLink Open(MultiVdevRemote remote)
    {
        var open = RpmsgLink.OpenAsync(remote.HostDescription, new RpmsgLinkOptions { Name = "host", Timeout = Bound });
        remote.StartAll();
        Assert.True(open.Wait(Bound), "the link did not open");
        return open.Result;
    }

    [Fact]
    public void RecoverVdev_RacingTheApplicationsStop_SwapsNoFreshDeviceInBeforeThatStopEnded()
    {
        using var remote = MultiVdevRemote.Create(0);
        using var link = Open(remote);
        var old = link.Devices[1];
        using var inHandler = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        using var waiting = new ManualResetEventSlim();
        old.StateChanged += (_, state) =>
        {
            if (state == RpmsgDeviceState.Stopped && !inHandler.IsSet)
            {
                inHandler.Set();
                release.Wait(Bound);
            }
        };
        old.WaitingForStop = waiting.Set;
        var appStop = Task.Run(() => old.Stop("the application"));
        Assert.True(inHandler.Wait(Bound), "the application's Stop never raised Stopped");

        var recovery = link.RecoverVdevAsync(1);
        bool swapped;
        bool dispatcherAlive;
        try
        {
            Assert.True(SpinWait.SpinUntil(() => waiting.IsSet || !ReferenceEquals(old, link.Devices[1]) || recovery.IsCompleted, Bound),
                "the recovery neither waited for the application's stop nor went on");
            swapped = !ReferenceEquals(old, link.Devices[1]);
            dispatcherAlive = old.DispatcherThreadAlive;
        }
        finally
        {
            release.Set();
        }

        Assert.False(swapped, $"a fresh device took vdev 1's rings and doorbell while the application's Stop of the old one was under way (its dispatcher alive: {dispatcherAlive})");
        Assert.True(appStop.Wait(Bound), "the application's Stop never returned");
        Assert.True(((IAsyncResult)recovery).AsyncWaitHandle.WaitOne(Bound), "the recovery never ended");
        Assert.False(old.DispatcherThreadAlive);
        Assert.Equal(RpmsgDeviceState.Running, recovery.Result.State);
        Assert.Same(recovery.Result, link.Devices[1]);
    }

    // The thread stopping the device is one that any other stop of it now waits for: a recovery it waited for would never end.
    [Fact]
    public void RecoverVdev_WaitedInAStoppedHandlerOnTheThreadStoppingItsDevice_ThrowsInvalidOperation()
    {
        using var remote = MultiVdevRemote.Create(0);
        using var link = Open(remote);
        var device = link.Devices[1];
        var outcome = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
        device.StateChanged += (_, state) =>
        {
            if (state == RpmsgDeviceState.Stopped)
                outcome.TrySetResult(RpmsgLinkRecoverFromCallbackTests.RecoverAndWait(() => link.RecoverVdevAsync(1)));
        };

        Assert.True(Task.Run(() => device.Stop("the application")).Wait(Bound + Bound), "the application's Stop never returned");

        Assert.True(outcome.Task.IsCompleted, "the handler never ran");
        var e = Assert.IsType<InvalidOperationException>(outcome.Task.Result);
        Assert.Contains("'host.vdev1'", e.Message, StringComparison.Ordinal);
        Assert.Same(device, link.Devices[1]);
        var fresh = link.RecoverVdevAsync(1);
        Assert.True(fresh.Wait(Bound), "the recovery from the test thread did not finish");
        Assert.Equal(RpmsgDeviceState.Running, fresh.Result.State);
    }

    [Fact]
    public void LinkDispose_FromAStoppedHandlerWhileARecoveryWaitsForThatStop_DisposedWithoutDeadlock()
    {
        using var remote = MultiVdevRemote.Create(0);
        var link = Open(remote);
        var device = link.Devices[1];
        using var entered = new ManualResetEventSlim();
        using var waiting = new ManualResetEventSlim();
        device.WaitingForStop = waiting.Set;
        string outcome = "the handler did not finish";
        device.StateChanged += (_, state) =>
        {
            if (state != RpmsgDeviceState.Stopped || entered.IsSet)
                return;
            entered.Set();
            if (!SpinWait.SpinUntil(() => waiting.IsSet || !ReferenceEquals(device, link.Devices[1]), Bound) || !waiting.IsSet)
            {
                outcome = "the recovery did not wait for the application's stop";
                return;
            }
            outcome = Outcome(link.Dispose);
        };
        var appStop = Task.Run(() => device.Stop("the application"));
        Assert.True(entered.Wait(Bound), "the application's Stop never raised Stopped");

        var recovery = link.RecoverVdevAsync(1);

        Assert.True(appStop.Wait(Bound + Bound), "the application's Stop never returned: its handler's RpmsgLink.Dispose waits for the recovery, which waits for that Stop");
        AssertDisposedUnderRecovery(link, recovery, outcome);
    }

    [Fact]
    public void LinkDispose_FromAProbeThatARecoverysStopWaitsFor_DisposedWithoutDeadlock()
    {
        using var remote = MultiVdevRemote.Create(0);
        var link = Open(remote);
        var device = link.Devices[1];
        remote.Announce(1, "svc-late", 0x600);
        Assert.True(SpinWait.SpinUntil(() => device.UnboundServiceCount == 1, Bound), "the remote's service was never announced");
        using var probing = new ManualResetEventSlim();
        using var waitedFor = new ManualResetEventSlim();
        device.WaitingForProbe = waitedFor.Set;
        string outcome = "the probe did not finish";
        var register = Task.Run(() => device.RegisterDriver(new RpmsgServiceDriver("svc-late")
        {
            Probe = _ =>
            {
                probing.Set();
                outcome = waitedFor.Wait(Bound) ? Outcome(link.Dispose) : "the recovery never waited for this probe";
            },
        }));
        Assert.True(probing.Wait(Bound), "the probe never ran");

        var recovery = link.RecoverVdevAsync(1);

        Assert.True(register.Wait(Bound + Bound), "the Probe never returned: its RpmsgLink.Dispose waits for the recovery, which waits for the Probe");
        AssertDisposedUnderRecovery(link, recovery, outcome);
    }

    [Fact]
    public void LinkDispose_FromABrokenHandlerOfASenderThatARecoverysStopDrains_DisposedWithoutDeadlock()
    {
        using var remote = MultiVdevRemote.Create(0);
        var link = Open(remote);
        var device = link.Devices[1];
        var ept = BreakOnNextSend(link);
        using var inHandler = new ManualResetEventSlim();
        using var draining = new ManualResetEventSlim();
        device.Gate.Draining = draining.Set;
        string outcome = "the handler did not finish";
        device.StateChanged += (_, state) =>
        {
            if (state != RpmsgDeviceState.Broken)
                return;
            inHandler.Set();
            outcome = draining.Wait(Bound) ? Outcome(link.Dispose) : "the recovery never waited for this sender";
        };
        var send = Task.Run(() => Outcome(() => ept.SendTo(0x777, [2])));
        Assert.True(inHandler.Wait(Bound), "the send did not break the device");

        var recovery = link.RecoverVdevAsync(1);

        Assert.True(send.Wait(Bound + Bound), "the send never returned: its handler's RpmsgLink.Dispose waits for the recovery, which drains the send");
        Assert.StartsWith("VirtqueueBrokenException", send.Result);
        AssertDisposedUnderRecovery(link, recovery, outcome);
    }

    /// <summary>
    /// Vdev 1's host tx ring (vring1 at 0x54000, 256 entries): every host tx buffer sent and returned, then its used.idx
    /// moved far past what the host has in flight, so the host's next send, which must reclaim, breaks the device on the
    /// sending thread (inside its data operation). Returns the endpoint to send with.
    /// </summary>
    internal static RpmsgEndpoint BreakOnNextSend(RpmsgLink link)
    {
        const int txBuffers = 256;
        var ept = link.Devices[1].CreateEndpoint(0x730);
        for (int i = 0; i < txBuffers; i++)
            Assert.True(ept.TrySendTo(0x777, [1]), $"send {i} found no free tx buffer");
        long usedIdx = 0x54000 + new VringLayout(256, 4096).UsedOffset + 2;
        var region = link.Platform.Regions[0];
        Assert.True(SpinWait.SpinUntil(() => ReadUInt16(region, usedIdx) == txBuffers, Bound), "the remote did not return the host's tx buffers");
        using (var lease = region.Acquire())
            lease.WriteUInt16(usedIdx, txBuffers + 1000);
        return ept;
    }

    private static ushort ReadUInt16(SharedMemoryRegion region, long offset)
    {
        using var lease = region.Acquire();
        return lease.ReadUInt16(offset);
    }

    private static string Outcome(Action action)
    {
        try
        {
            action();
            return "returned";
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
    }

    // The Dispose from the handler was left to the recovery holding the lock, which ends with it and completes it.
    private static void AssertDisposedUnderRecovery(RpmsgLink link, Task<RpmsgDevice> recovery, string outcome)
    {
        Assert.Equal("returned", outcome);
        Assert.True(((IAsyncResult)recovery).AsyncWaitHandle.WaitOne(Bound), "the recovery never ended");
        Assert.IsType<ObjectDisposedException>(recovery.Exception?.InnerException);
        Assert.All(link.Devices, d => Assert.Equal(RpmsgDeviceState.Stopped, d.State));
        Assert.All(link.Devices, d => Assert.False(d.DispatcherThreadAlive));
        Assert.All(link.Platform.Regions, r => Assert.False(r.IsMapped, $"region '{r.Name}' is still mapped"));
        link.Dispose();
    }
}
