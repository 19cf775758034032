using System.Collections.Concurrent;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// CallerPoll: a sender inside a receive callback (inside the application's Poll) waits on the doorbell for a
/// returned tx buffer, so the peer must be asked to kick when it returns one, even when an application sender
/// (which in CallerPoll arms nothing) began waiting first. Else the callback, which goes first, slept for the
/// IdleRecheckInterval (set far beyond the test's bound here) per try.
/// The remote returns the first tx buffer (and kicks) before the rest: the callback takes that one, and the
/// application sender it hands over to finds none left; in CallerPoll the application's next Poll wakes it
/// (in CI the test once waited for the hand-off alone while the remote had returned only one buffer). Once the
/// callback sender left, nobody waits on the doorbell, so the remote returning the rest must not kick (with
/// or without EVENT_IDX; a peer whose kick blocks would fill the doorbell).
/// </summary>
public class RpmsgCallerPollCallbackSendTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(RpmsgFeatures.NameService)]
    [InlineData(RpmsgFeatures.NameService | VirtioFeatures.EventIndex)]
    public void Send_CallbackAfterApplicationSenderUnderCallerPoll_IsWokenByTheReturnedBuffer(uint features)
    {
        using var loop = RpmsgLoopback.Create(
            host: o =>
            {
                o.WaitStrategy = RpmsgWaitStrategy.CallerPoll;
                o.IdleRecheckInterval = TimeSpan.FromMinutes(10);
            },
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            deviceFeatures: features);
        var arrivals = new ConcurrentQueue<byte>();
        using var releaseRemote = new ManualResetEventSlim();
        loop.Remote.CreateEndpoint(0x400, (_, _, payload) =>
        {
            arrivals.Enqueue(payload[0]);
            if (arrivals.Count == 1)
                releaseRemote.Wait(Bound); // its buffer went back (and kicked) before this callback; the rest wait
        });
        using var callbackSent = new ManualResetEventSlim();
        var host = loop.Host.CreateEndpoint(0x500, (ept, _, _) =>
        {
            ept.SendTo(0x400, [1], 2 * Bound); // all tx buffers taken: waits on the doorbell
            callbackSent.Set();
        });
        while (host.TrySendTo(0x400, [0]))
        {
        }
        long waits = loop.Host.Counters.TxBufferWaits;
        var app = Task.Factory.StartNew(() => host.SendTo(0x400, [2], 2 * Bound), TaskCreationOptions.LongRunning);
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, waits);

        loop.Remote.CreateEndpoint(0x401).SendTo(0x500, [9]);
        var poll = Task.Factory.StartNew(() => loop.Host.Poll(), TaskCreationOptions.LongRunning); // runs the callback
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, waits, count: 2);

        var remotePoll = Task.Factory.StartNew(() => loop.Remote.Poll(), TaskCreationOptions.LongRunning); // returns the host's tx buffers
        long kicks;
        try
        {
            Assert.True(callbackSent.Wait(Bound), "the callback sender was not woken when its peer returned a tx buffer");
            Assert.True(poll.Wait(Bound));
        }
        finally
        {
            kicks = loop.RemoteDoorbell.RingCount;
            releaseRemote.Set();
        }
        Assert.True(remotePoll.Wait(Bound));
        kicks = loop.RemoteDoorbell.RingCount - kicks;
        Assert.True(kicks == 0, $"the remote kicked the caller-polling host {kicks} times for the buffers it returned after the callback sender left");
        // Under CallerPoll an application sender outside a callback is woken by the application's Poll
        // (docs/wait-strategies.md), which WaitUntil calls here, as a CallerPoll application does.
        loop.WaitUntil(() => app.IsCompleted, "the application sender sent after the callback");
        app.GetAwaiter().GetResult();
        loop.WaitUntil(() => arrivals.Count(b => b != 0) == 2, "both sends arrived");
        Assert.Equal([1, 2], arrivals.Where(b => b != 0).ToArray());
    }
}
