using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Review;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// Review (recovery2, item 1): <see cref="RpmsgLink.RecoverVdevAsync"/> called from a receive callback or a StateChanged
/// handler of the device it would replace, and waited for there. The recovery stops that device, and the stop waits for
/// the callback to return: the wait never ended. It is refused at the call with an <see cref="InvalidOperationException"/>
/// naming the problem; from a callback of another vdev's device it works, unless another recovery is stopping that device.
/// Each callback waits at most <see cref="CallbackWait"/>, so the old code fails the test instead of hanging it.
/// </summary>
public class RpmsgLinkRecoverFromCallbackTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan CallbackWait = TimeSpan.FromSeconds(30);
    private const uint HostAddress = 0x1000;

    private static RpmsgLink Open(MultiVdevRemote remote) => StopRaceLinkReviewTests.Open(remote);

    /// <summary>Calls <paramref name="recover"/> and waits for it synchronously (bounded); what it threw, or a note that it never ended.</summary>
    internal static object RecoverAndWait(Func<Task<RpmsgDevice>> recover)
    {
        try
        {
            var task = recover();
            return task.Wait(CallbackWait) ? task.Result : "the recovery did not end while its caller waited for it";
        }
        catch (AggregateException e)
        {
            return e.InnerException!;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    [Fact]
    public void RecoverVdev_WaitedInAReceiveCallbackOfItsDevice_ThrowsInvalidOperation()
    {
        using var remote = MultiVdevRemote.Create(0);
        using var link = Open(remote);
        var device = link.Devices[1];
        var outcome = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var ept = device.CreateEndpoint(HostAddress, (_, _, _) => outcome.TrySetResult(RecoverAndWait(() => link.RecoverVdevAsync(1))));

        ept.SendTo(MultiVdevRemote.FirstAddress, MultiVdevRemote.Payload(0, 1, 0, 1));

        Assert.True(outcome.Task.Wait(Bound + Bound), "the callback never ran");
        var e = Assert.IsType<InvalidOperationException>(outcome.Task.Result);
        Assert.Contains("callback", e.Message, StringComparison.Ordinal);
        Assert.Contains("'host.vdev1'", e.Message, StringComparison.Ordinal);
        // Refused before anything was touched: the device runs on, and a recovery from another thread works.
        Assert.Equal(RpmsgDeviceState.Running, device.State);
        Assert.Same(device, link.Devices[1]);
        var fresh = link.RecoverVdevAsync(1);
        Assert.True(fresh.Wait(Bound), "the recovery from the test thread did not finish");
        Assert.NotSame(device, fresh.Result);
    }

    [Fact]
    public void RecoverVdev_WaitedInAStateChangedHandlerOfItsBrokenDevice_ThrowsInvalidOperation()
    {
        using var remote = MultiVdevRemote.Create(0);
        using var link = Open(remote);
        var device = link.Devices[1];
        var outcome = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
        device.StateChanged += (_, state) =>
        {
            if (state == RpmsgDeviceState.Broken)
                outcome.TrySetResult(RecoverAndWait(() => link.RecoverVdevAsync(1)));
        };

        remote.Crash(1); // NEEDS_RESET: the host's dispatcher breaks the device and raises StateChanged on its thread

        Assert.True(outcome.Task.Wait(Bound + Bound), "the device never broke");
        Assert.Contains("handler", Assert.IsType<InvalidOperationException>(outcome.Task.Result).Message, StringComparison.Ordinal);
        var fresh = link.RecoverVdevAsync(1);
        remote.Restart(1);
        Assert.True(fresh.Wait(Bound), "the recovery from the test thread did not finish");
    }

    // Review (stoprace, item 3): the guard's other two cases. A Probe on the application's thread (a late RegisterDriver):
    // the stop waits for it to return.
    [Fact]
    public void RecoverVdev_WaitedInAProbeOfItsDeviceOnTheApplicationsThread_ThrowsInvalidOperation()
    {
        using var remote = MultiVdevRemote.Create(0);
        using var link = Open(remote);
        var device = link.Devices[1];
        remote.Announce(1, "svc-late", 0x600);
        Assert.True(SpinWait.SpinUntil(() => device.UnboundServiceCount == 1, Bound), "the remote's service was never announced");
        object outcome = "the probe never ran";

        device.RegisterDriver(new RpmsgServiceDriver("svc-late") { Probe = _ => outcome = RecoverAndWait(() => link.RecoverVdevAsync(1)) });

        var e = Assert.IsType<InvalidOperationException>(outcome);
        Assert.Contains("probe", e.Message, StringComparison.Ordinal);
        Assert.Contains("'host.vdev1'", e.Message, StringComparison.Ordinal);
        Assert.Equal(RpmsgDeviceState.Running, device.State);
        Assert.Same(device, link.Devices[1]);
    }

    // A StateChanged(Broken) handler raised by a send that found the ring broken, on the sending thread inside its data
    // operation: the stop drains that operation, so it waits for the handler to return.
    [Fact]
    public void RecoverVdev_WaitedInABrokenHandlerOfAFailingSend_ThrowsInvalidOperation()
    {
        using var remote = MultiVdevRemote.Create(0);
        using var link = Open(remote);
        var device = link.Devices[1];
        var ept = Review.StopRaceLinkReviewTests.BreakOnNextSend(link);
        var outcome = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
        device.StateChanged += (_, state) =>
        {
            if (state == RpmsgDeviceState.Broken)
                outcome.TrySetResult(RecoverAndWait(() => link.RecoverVdevAsync(1)));
        };

        var send = Task.Run(() => Assert.ThrowsAny<Exception>(() => ept.SendTo(0x777, [2])));

        Assert.True(send.Wait(Bound + Bound), "the send never returned");
        Assert.True(outcome.Task.IsCompleted, "the send did not break the device");
        var e = Assert.IsType<InvalidOperationException>(outcome.Task.Result);
        Assert.Contains("handler", e.Message, StringComparison.Ordinal);
        Assert.Same(device, link.Devices[1]);
        var fresh = link.RecoverVdevAsync(1);
        Assert.True(fresh.Wait(Bound), "the recovery from the test thread did not finish");
    }

    // Not too wide: a callback of vdev 0's device may reset vdev 1 and wait for it (vdev 1's stop does not wait for it).
    [Fact]
    public void RecoverVdev_WaitedInAReceiveCallbackOfAnotherVdevsDevice_Recovers()
    {
        using var remote = MultiVdevRemote.Create(0);
        using var link = Open(remote);
        var old = link.Devices[1];
        var outcome = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var ept = link.Devices[0].CreateEndpoint(HostAddress, (_, _, _) => outcome.TrySetResult(RecoverAndWait(() => link.RecoverVdevAsync(1))));

        ept.SendTo(MultiVdevRemote.FirstAddress, MultiVdevRemote.Payload(0, 0, 0, 1));

        Assert.True(outcome.Task.Wait(Bound + Bound), "the callback never ran");
        var fresh = Assert.IsType<RpmsgDevice>(outcome.Task.Result);
        Assert.NotSame(old, fresh);
        Assert.Same(fresh, link.Devices[1]);
        Assert.Equal(RpmsgDeviceState.Running, fresh.State);
    }

    // A callback of vdev 0's device waits for a reset of vdev 1 while another thread's recovery of vdev 0 holds the lock
    // and stops vdev 0's device (joining this very callback): the queued reset is refused instead of waiting for it.
    [Fact]
    public void RecoverVdev_WaitedInACallbackWhoseDeviceAnotherRecoveryStops_ThrowsInvalidOperation()
    {
        using var remote = MultiVdevRemote.Create(0);
        using var link = Open(remote);
        var device0 = link.Devices[0];
        using var entered = new ManualResetEventSlim();
        var outcome = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var ept = device0.CreateEndpoint(HostAddress, (_, _, _) =>
        {
            entered.Set();
            // The other recovery holds the lock from before it stops this device until after it joined this thread.
            if (!SpinWait.SpinUntil(() => device0.State == RpmsgDeviceState.Stopped, Bound))
            {
                outcome.TrySetResult("the other recovery never stopped vdev 0's device");
                return;
            }
            outcome.TrySetResult(RecoverAndWait(() => link.RecoverVdevAsync(1)));
        });
        ept.SendTo(MultiVdevRemote.FirstAddress, MultiVdevRemote.Payload(0, 0, 0, 1));
        Assert.True(entered.Wait(Bound), "the callback never ran");

        var other = link.RecoverVdevAsync(0);

        Assert.True(outcome.Task.Wait(Bound + Bound), "the callback never ended");
        Assert.Contains("another recovery", Assert.IsType<InvalidOperationException>(outcome.Task.Result).Message, StringComparison.Ordinal);
        Assert.True(other.Wait(Bound), "the recovery of vdev 0 did not finish");
        Assert.NotSame(device0, other.Result);
    }

    // Review (rereview-g): the recovery's own stop raises StateChanged(Stopped), and runs the drivers' Remove, on the thread
    // the recovery waits for (its Task.Run of the old device's Dispose), not on the dispatcher: IsWaitedForByStop is false
    // there, so a recovery asked for and waited for in that handler (of any vdev) waited behind the lock the first one holds.
    [Theory]
    [InlineData(1)]
    [InlineData(0)]
    public void RecoverVdev_WaitedInAStoppedHandlerRaisedByARecoverysStop_ThrowsInvalidOperation(int target)
    {
        using var remote = MultiVdevRemote.Create(0);
        using var link = Open(remote);
        var device = link.Devices[1];
        var outcome = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
        device.StateChanged += (_, state) =>
        {
            if (state == RpmsgDeviceState.Stopped)
                outcome.TrySetResult(RecoverAndWait(() => link.RecoverVdevAsync(target)));
        };

        var first = link.RecoverVdevAsync(1);

        Assert.True(outcome.Task.Wait(Bound + Bound), "the device never stopped");
        Assert.Contains("recovery", Assert.IsType<InvalidOperationException>(outcome.Task.Result).Message, StringComparison.Ordinal);
        Assert.True(first.Wait(Bound), "the first recovery did not finish");
        Assert.NotSame(device, first.Result);
        Assert.Same(first.Result, link.Devices[1]);
    }
}
