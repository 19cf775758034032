using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Lifecycle;
using VirtioRpmsg.Tests.Rpmsg;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// A receive callback (on the dispatcher thread) that disposes or stops the owner of its device while another thread is
/// stopping that device: the stopping thread holds the owner's lock and joins the dispatcher thread, so a callback that
/// waits for that lock never returns (both threads hang). It must either work (a Dispose is completed by the transition
/// holding the lock, when it ends) or throw a clear exception (a Stop), never deadlock.
/// On a failure the hung threads are left behind (nothing can end them); the test still fails within its bound.
/// </summary>
public sealed class DisposeInCallbackDuringStopReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RemoteProcessor_DisposeOrStopFromACallback_WhileAnotherThreadStops_NoDeadlock(bool stopInsteadOfDispose)
    {
        var rig = SimulatedRemoteRig.Create();
        var rp = rig.Processor;
        rp.Start();
        var echo = rp.WaitForChannel(SimulatedRemote.EchoServiceName, Bound);
        var device = rp.Device!;
        using var entered = new ManualResetEventSlim();
        string outcome = "the callback did not finish";
        device.CreateEndpoint(0x720, (_, _, _) =>
        {
            entered.Set();
            // The other thread's Stop is under way (it joins this thread once it has stopped the device).
            if (!SpinWait.SpinUntil(() => device.State == RpmsgDeviceState.Stopped, Bound))
            {
                outcome = "the device was never stopped";
                return;
            }
            try
            {
                if (stopInsteadOfDispose)
                    rp.Stop();
                else
                    rp.Dispose();
                outcome = "returned";
            }
            catch (Exception e)
            {
                outcome = $"{e.GetType().Name}: {e.Message}";
            }
        });
        device.CreateEndpoint(0x721).SendOffChannel(0x720, echo.RemoteAddress, "x"u8);
        Assert.True(entered.Wait(Bound), "the echo never reached the callback");

        var stop = Task.Run(rp.Stop);
        Assert.True(stop.Wait(Bound), "RemoteProcessor.Stop never returned: it joins the dispatcher thread, whose callback waits for Stop's lock");
        if (stopInsteadOfDispose)
        {
            Assert.StartsWith("InvalidOperationException: ", outcome);
            Assert.Contains("receive callback", outcome);
            Assert.Equal(RemoteProcessorState.Stopped, rp.State);
        }
        else
        {
            Assert.Equal("returned", outcome);
            // The Stop completed the dispose when it ended.
            Assert.Throws<ObjectDisposedException>(rp.Start);
        }
        Assert.False(rig.Region.IsMapped, "the shared memory is still mapped");
        rig.Dispose();
    }

    [Fact]
    public void RpmsgLink_DisposeFromACallback_WhileARecoveryStopsItsDevice_NoDeadlock()
    {
        using var remote = MultiVdevRemote.Create(0);
        var open = RpmsgLink.OpenAsync(remote.HostDescription, new RpmsgLinkOptions { Name = "host", Timeout = Bound });
        remote.StartAll();
        Assert.True(open.Wait(Bound), "the link did not open");
        var link = open.Result;
        var device = link.Devices[1];
        using var entered = new ManualResetEventSlim();
        string outcome = "the callback did not finish";
        var ept = device.CreateEndpoint(0x720, (_, _, _) =>
        {
            entered.Set();
            // The recovery is stopping this device (it joins this thread).
            if (!SpinWait.SpinUntil(() => device.State == RpmsgDeviceState.Stopped, Bound))
            {
                outcome = "the device was never stopped";
                return;
            }
            try
            {
                link.Dispose();
                outcome = "returned";
            }
            catch (Exception e)
            {
                outcome = $"{e.GetType().Name}: {e.Message}";
            }
        });
        ept.SendTo(MultiVdevRemote.FirstAddress, MultiVdevRemote.Payload(0, 1, 0, 1));
        Assert.True(entered.Wait(Bound), "the echo never reached the callback");

        var recovery = link.RecoverVdevAsync(1);
        Assert.True(((IAsyncResult)recovery).AsyncWaitHandle.WaitOne(Bound), "the recovery never ended: it joins the dispatcher thread, whose callback waits in RpmsgLink.Dispose for the recovery");
        Assert.Equal("returned", outcome);
        // The link was disposed under the recovery: it ends with that, and the dispose is completed.
        Assert.IsType<ObjectDisposedException>(recovery.Exception?.InnerException);
        Assert.All(link.Devices, d => Assert.Equal(RpmsgDeviceState.Stopped, d.State));
        Assert.All(link.Platform.Regions, r => Assert.False(r.IsMapped, $"region '{r.Name}' is still mapped"));
        link.Dispose();
    }

    // The device level was already right (pinned here): Stop releases the device lock before it joins the dispatcher,
    // a destroy from the callback does not wait for its own callback, and a second Stop returns at once.
    [Fact]
    public void RpmsgDevice_EndpointAndDeviceDisposeFromACallback_WhileAnotherThreadStops_NoDeadlock()
    {
        using var loop = RpmsgLoopback.Create();
        using var entered = new ManualResetEventSlim();
        string outcome = "the callback did not finish";
        RpmsgEndpoint? other = loop.Host.CreateEndpoint(0x731);
        loop.Host.CreateEndpoint(0x730, (ept, _, _) =>
        {
            entered.Set();
            if (!SpinWait.SpinUntil(() => loop.Host.State == RpmsgDeviceState.Stopped, Bound))
            {
                outcome = "the device was never stopped";
                return;
            }
            ept.Dispose();
            other.Dispose();
            loop.Host.Dispose();
            outcome = "returned";
        });
        loop.Remote.CreateEndpoint(0x740).SendTo(0x730, "x"u8);
        Assert.True(entered.Wait(Bound), "the message never reached the callback");

        Assert.True(Task.Run(() => loop.Host.Stop("test")).Wait(Bound), "RpmsgDevice.Stop never returned");
        Assert.Equal("returned", outcome);
        Assert.True(other.IsDestroyed);
    }
}
