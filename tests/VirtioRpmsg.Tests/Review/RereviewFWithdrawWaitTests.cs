using System.Collections.Concurrent;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Re-review (rereview-f): a resumed device's withdrawal at link-up waits for a tx buffer when another thread creates a
/// named endpoint at the same name and address. Sent after that endpoint's CREATE (whichever waiter gets the first
/// buffer back), the DESTROY would withdraw the service it serves; the create ends the withdrawal first (it is not sent:
/// the driver keeps the channel it has, bound to the address served again) and then announces.
/// </summary>
public sealed class RereviewFWithdrawWaitTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void NamedEndpointCreatedWhileItsWithdrawalWaitsForABuffer_TheWithdrawalIsDropped_AndTheServiceIsAnnounced()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            vringNum: 4, start: false);
        // Four withdrawals take the host's four rx buffers (it does not poll yet); the fifth, svc's, waits for one.
        loop.Remote.WithdrawAtLinkUp = [("x0", 0x610), ("x1", 0x611), ("x2", 0x612), ("x3", 0x613), ("svc", 0x700)];
        var destroyed = new ConcurrentQueue<(string, uint)>();
        loop.Host.ServiceDestroyed += (name, address) => destroyed.Enqueue((name, address));
        loop.Host.Start();
        loop.Remote.Start();
        long before = loop.Remote.Counters.TxBufferWaits;
        var linkUp = Task.Factory.StartNew(() => loop.Remote.Poll(), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        RpmsgLoopback.WaitForBlockedSenders(loop.Remote, before); // svc's DESTROY waits
        var create = Task.Factory.StartNew(() => loop.Remote.CreateNamedEndpoint("svc", 0x700, (_, _, _) => { }),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        RpmsgLoopback.WaitForBlockedSenders(loop.Remote, before, 2); // and the CREATE (the link-up's Poll still waiting, or not)
        Assert.True(SpinWait.SpinUntil(() =>
        {
            loop.Host.Poll();
            return linkUp.IsCompleted && create.IsCompleted && loop.Host.AnnouncedServiceNames.Contains("svc");
        }, Bound), $"link-up {linkUp.Status}, create {create.Status}, host has [{string.Join(", ", loop.Host.AnnouncedServiceNames)}]");
        Assert.Null(linkUp.Exception);
        Assert.Null(create.Exception);
        loop.Host.Poll();
        Assert.Contains("svc", loop.Host.AnnouncedServiceNames); // not withdrawn after its CREATE
        Assert.Equal([("x0", 0x610u), ("x1", 0x611u), ("x2", 0x612u), ("x3", 0x613u)], destroyed.ToArray());
    }
}
