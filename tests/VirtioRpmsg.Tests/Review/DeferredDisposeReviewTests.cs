using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Lifecycle;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// A Dispose from a receive callback, while another thread's transition stops that callback's device, is left to that
/// transition (it completes the dispose when it ends). A transition can end by throwing: a Stop the control refuses
/// (EBUSY) after everything local was released. The dispose must be completed then too, not silently dropped (the
/// processor left usable, its monitor thread running, a Recover booting the remote again).
/// </summary>
public sealed class DeferredDisposeReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public void RemoteProcessor_DisposeFromACallback_WhileAStopThatThrowsStopsItsDevice_IsCompleted()
    {
        var rig = RefusingControlRig.Create();
        var rp = rig.Processor;
        try
        {
            rp.Start();
            var echo = rp.WaitForChannel(SimulatedRemote.EchoServiceName, Bound);
            var device = rp.Device!;
            using var entered = new ManualResetEventSlim();
            using var done = new ManualResetEventSlim();
            string outcome = "the callback did not finish";
            device.CreateEndpoint(0x722, (_, _, _) =>
            {
                entered.Set();
                try
                {
                    if (!SpinWait.SpinUntil(() => device.State == RpmsgDeviceState.Stopped, Bound))
                    {
                        outcome = "the device was never stopped";
                        return;
                    }
                    rp.Dispose();
                    outcome = "returned";
                }
                catch (Exception e)
                {
                    outcome = $"{e.GetType().Name}: {e.Message}";
                }
                finally
                {
                    done.Set();
                }
            });
            device.CreateEndpoint(0x723).SendOffChannel(0x722, echo.RemoteAddress, "x"u8);
            Assert.True(entered.Wait(Bound), "the echo never reached the callback");

            rig.Control.Refuse = true;
            var stop = Task.Run(rp.Stop);
            Assert.True(((IAsyncResult)stop).AsyncWaitHandle.WaitOne(Bound), "RemoteProcessor.Stop never returned");
            Assert.IsType<RemoteProcessorControlException>(stop.Exception?.InnerException);
            Assert.True(done.Wait(Bound));
            Assert.Equal("returned", outcome);
            // The callback's Dispose returned: the processor is disposed, whatever the Stop that completed it threw.
            rig.Control.Refuse = false;
            Assert.Throws<ObjectDisposedException>(rp.Recover);
        }
        finally
        {
            rig.Control.Refuse = false;
            rig.Dispose();
        }
    }
}
