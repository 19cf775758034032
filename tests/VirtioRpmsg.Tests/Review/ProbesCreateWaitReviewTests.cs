using System.Diagnostics;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (probes): a named endpoint disposed while the dispatcher thread sends its CREATE as a callback sender (waiting
/// on the doorbell for a tx buffer). Dispose waits for that send to end; the endpoint's destroy must end it at once, as
/// it does for an application sender, not when the doorbell wait's slice (IdleRecheckInterval) runs out.
/// </summary>
public class ProbesCreateWaitReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    // The doorbell wait's slice, far past the bound: a Dispose that waits it out is told from a thread descheduled for
    // seconds on a loaded machine.
    private static readonly TimeSpan Slice = TimeSpan.FromMinutes(2);

    [Fact]
    public void NamedEndpoint_CreatedInACallback_DisposedWhileItsCreateWaits_DisposeReturnsPromptly()
    {
        // The host's dispatcher thread watches its doorbell; the caller-polled remote takes nothing, so the host's tx
        // buffers do not come back. A long re-check makes the slice the callback sender sleeps on obvious.
        using var loop = RpmsgLoopback.Create(
            host: o => o.IdleRecheckInterval = Slice,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            hookedDoorbells: true);
        var bell = (HookedDoorbell)loop.HostBell;
        using var filler = loop.Host.CreateEndpoint(0x450);
        int sent = 0;
        while (filler.TrySendTo(0x999, [1]))
            sent++;
        Assert.True(sent > 0);
        long before = loop.Host.Counters.TxBufferWaits;
        RpmsgEndpoint? created = null;
        Exception? inCallback = null;
        using var returned = new ManualResetEventSlim();
        using var trigger = loop.Host.CreateEndpoint(0x500, (_, _, _) =>
        {
            try
            {
                created = loop.Host.CreateNamedEndpoint("svc", 0x600, (_, _, _) => { });
            }
            catch (Exception e)
            {
                inCallback = e;
            }
            returned.Set();
        });
        using var sender = loop.Remote.CreateEndpoint(0x700);
        sender.SendTo(0x500, [1]);
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, before);
        // The dispatcher thread, inside the callback, is the doorbell's only waiter: it sleeps there for the CREATE.
        Assert.True(SpinWait.SpinUntil(() => bell.HasWaiter, Bound), "the CREATE's sender never waited on the doorbell");
        var named = loop.Host.Endpoints.Single(e => e.Address == 0x600);

        var watch = Stopwatch.StartNew();
        var disposed = Task.Factory.StartNew(named.Dispose, TaskCreationOptions.LongRunning);
        bool prompt = disposed.Wait(Bound);
        Assert.True(disposed.Wait(Slice), "Dispose did not return");
        watch.Stop();
        Assert.True(returned.Wait(Bound), "the callback did not return");

        Assert.True(prompt, $"Dispose waited {watch.ElapsedMilliseconds} ms for the CREATE the dispatcher thread was sending (its doorbell wait's slice)");
        Assert.Null(inCallback);
        Assert.True(created!.IsDestroyed);
        using var again = loop.Host.CreateEndpoint(0x600); // the address is free
    }
    // A remote's named endpoints created before link-up are announced by its dispatcher thread; with the host's rx
    // buffers all taken (a caller-polled host that does not poll), one CREATE waits on the doorbell.
    [Fact]
    public void RemoteNamedEndpoint_DisposedWhileTheDispatcherSendsItsCreateAtLinkUp_DisposeReturnsPromptly()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.IdleRecheckInterval = Slice,
            vringNum: 4,
            start: false,
            hookedDoorbells: true);
        var bell = (HookedDoorbell)loop.RemoteBell;
        var named = Enumerable.Range(0, 12).Select(i => loop.Remote.CreateNamedEndpoint($"svc-{i}", 0x600 + (uint)i, (_, _, _) => { })).ToList();
        long before = loop.Remote.Counters.TxBufferWaits;
        loop.Remote.Start();
        loop.Host.Start();
        RpmsgLoopback.WaitForBlockedSenders(loop.Remote, before);
        Assert.True(SpinWait.SpinUntil(() => bell.HasWaiter, Bound), "the CREATE's sender never waited on the doorbell");
        var waiting = named.Single(e => e.AnnounceState == RpmsgAnnounceState.Sending);

        var watch = Stopwatch.StartNew();
        var disposed = Task.Factory.StartNew(waiting.Dispose, TaskCreationOptions.LongRunning);
        bool prompt = disposed.Wait(Bound);
        Assert.True(disposed.Wait(Slice), "Dispose did not return");
        watch.Stop();

        Assert.True(prompt, $"Dispose waited {watch.ElapsedMilliseconds} ms for the CREATE the dispatcher thread was sending at link-up");
        Assert.Equal(RpmsgAnnounceState.Withdrawn, waiting.AnnounceState);
    }
}
