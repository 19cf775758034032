using System.Reflection;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// Review (lifecycle): <see cref="RpmsgLink.RecoverVdevAsync"/> against the link's other waits. A channel wait on the
/// device being replaced ends (as it does when the device breaks), and a recovery queued behind another one when the
/// link is disposed ends with <see cref="ObjectDisposedException"/> instead of waiting forever.
/// </summary>
public class RpmsgLinkRecoveryRaceTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static RpmsgLink Open(MultiVdevRemote remote, RpmsgLinkOptions options)
    {
        var open = RpmsgLink.OpenAsync(remote.HostDescription, options);
        remote.StartAll();
        Assert.True(open.Wait(Bound), "the link did not open");
        return open.Result;
    }

    // The application resets a vdev whose device is still running (its remote stopped answering, say). The pending wait
    // was on the old device, which is stopped: it used to be left on a source nobody completes any more (the recovery
    // dropped it), so it ran to the timeout, or forever with an infinite one, saying the remote announced nothing.
    [Fact]
    public void RecoverVdev_OfARunningDevice_PendingChannelWaitEndsWithUnavailable()
    {
        using var remote = MultiVdevRemote.Create(0);
        using var link = Open(remote, new RpmsgLinkOptions { Name = "host", Timeout = Timeout.InfiniteTimeSpan });
        var old = link.Devices[1];
        var wait = link.WaitForChannelAsync("svc-never", 1);
        Assert.False(wait.IsCompleted);

        var recovery = link.RecoverVdevAsync(1);
        Assert.True(recovery.Wait(Bound), "the recovery did not finish");
        Assert.NotSame(old, recovery.Result);

        Assert.True(SpinWait.SpinUntil(() => wait.IsCompleted, Bound), "the wait on the replaced device never ended");
        var e = Assert.Throws<AggregateException>(() => wait.Wait()).InnerException;
        Assert.IsType<RpmsgDeviceUnavailableException>(e);
        Assert.Equal(RpmsgDeviceState.Stopped, ((RpmsgDeviceUnavailableException)e!).State);
    }

    // A second recovery waits behind the first; Dispose starts meanwhile. The queued recovery used to run anyway once
    // the first was done: it reset the vdev of a link being disposed and returned a device Dispose stopped right after.
    // (Had Dispose taken the recovery lock first, it never gave it back: the queued recovery waited forever.) The first
    // recovery, disposed while it waited for the old device's zero-copy buffer, starts no fresh device either.
    [Fact]
    public void Dispose_WhileARecoveryIsQueuedBehindAnother_BothRecoveriesEndWithObjectDisposed()
    {
        using var remote = MultiVdevRemote.Create(0);
        var link = Open(remote, new RpmsgLinkOptions { Name = "host", Timeout = Bound, ZeroCopyDrainTimeout = Bound });
        var old = link.Devices[1];
        var ept = old.CreateEndpoint(MultiVdevRemote.FirstAddress, (_, _, _) => { });
        // The first recovery holds the lock while it waits for this zero-copy buffer of the old device.
        using var holder = new Rpmsg.TxBufferHolder(ept, Bound);
        var first = link.RecoverVdevAsync(1);
        Assert.True(SpinWait.SpinUntil(() => old.State == RpmsgDeviceState.Stopped, Bound), "the first recovery did not stop the old device");
        var queued = link.RecoverVdevAsync(1); // waits for the lock
        Assert.False(queued.IsCompleted);
        var dispose = Task.Run(link.Dispose);
        Assert.True(SpinWait.SpinUntil(() => IsDisposed(link), Bound), "Dispose did not start");

        holder.Release();

        Assert.True(SpinWait.SpinUntil(() => first.IsCompleted, Bound), "the first recovery did not finish");
        Assert.IsType<ObjectDisposedException>(Assert.Throws<AggregateException>(() => first.Wait()).InnerException);
        Assert.True(dispose.Wait(Bound), "Dispose did not finish");
        Assert.True(SpinWait.SpinUntil(() => queued.IsCompleted, Bound), "the queued recovery never ended");
        Assert.IsType<ObjectDisposedException>(Assert.Throws<AggregateException>(() => queued.Wait()).InnerException);
    }

    private static bool IsDisposed(RpmsgLink link)
    {
        var field = typeof(RpmsgLink).GetField("_disposed", BindingFlags.NonPublic | BindingFlags.Instance);
        Assert.True(field is not null, "RpmsgLink._disposed not found: update this test");
        return (int)field.GetValue(link)! != 0;
    }
}
