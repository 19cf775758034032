using VirtioRpmsg;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// The receive side takes messages in batches of up to 16 and gives their buffers back with one publication
/// before any of their callbacks runs: a callback's own buffer is already back with the peer (as when each
/// went back alone), whatever a Poll handled is back when it returns, and a callback that blocks for a tx
/// buffer cannot leave the peer waiting for ours.
/// </summary>
public class RpmsgBatchedReleaseTests
{
    [Fact]
    public void Poll_FullRingHandled_EveryBufferIsBackWithThePeerWhenPollReturns()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        int received = 0;
        loop.Host.CreateEndpoint(0x500, (_, _, _) => received++);
        var sender = loop.Remote.CreateEndpoint(0x400);
        int sent = FillHostRing(sender);
        Assert.True(sent >= 32, $"only {sent} host rx buffers");

        Assert.Equal(sent, loop.Host.Poll());
        Assert.Equal(sent, received);
        Assert.Equal(sent, FillHostRing(sender));
    }

    [Fact]
    public void Callback_ItsOwnBufferIsAlreadyBackWithThePeer()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        var sender = loop.Remote.CreateEndpoint(0x400);
        bool? peerCouldSend = null;
        loop.Host.CreateEndpoint(0x500, (_, _, _) => peerCouldSend ??= sender.TrySendTo(0x501, [1]));
        Assert.True(FillHostRing(sender) > 0);
        loop.Host.Poll();
        Assert.True(peerCouldSend, "the first callback ran before its buffer was back with the peer");
    }

    [Fact]
    public void Poll_LongBatch_ThePeerGetsBuffersBackEvery16WhileTheBatchRuns()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        var sender = loop.Remote.CreateEndpoint(0x400);
        int received = 0;
        bool peerCouldSend = false;
        loop.Host.CreateEndpoint(0x500, (_, _, _) =>
        {
            // By the 16th message the first batch's buffers are published (nothing else is free: the ring was full).
            if (++received == 16)
                peerCouldSend = sender.TrySendTo(0x501, [16]);
        });
        int sent = FillHostRing(sender);
        Assert.True(sent >= 32, $"only {sent} host rx buffers");
        loop.Host.Poll();
        Assert.True(peerCouldSend, "no buffer was back with the peer 16 messages into the batch");
    }

    [Fact]
    public void CallbackBlockedSending_PublishesTheBatchSoThePeerCanReturnOurBuffers()
    {
        // The host's dispatcher callback needs a tx buffer; the remote returns host tx buffers only after its own
        // callback could reply, which needs a host rx buffer: one the host has taken in this batch and not published.
        using var loop = RpmsgLoopback.Create(
            host: o => o.IdleRecheckInterval = TimeSpan.FromMilliseconds(20),
            remote: o => o.IdleRecheckInterval = TimeSpan.FromMilliseconds(20));
        var remoteEcho = loop.Remote.CreateEndpoint(0x400, (e, src, p) => e.SendTo(src, p, TimeSpan.FromSeconds(30)));
        var hostSink = loop.Host.CreateEndpoint(0x501);
        var hostTrigger = loop.Remote.CreateEndpoint(0x402);
        var done = new ManualResetEventSlim();
        Exception? failure = null;
        var gate = new ManualResetEventSlim();
        loop.Host.CreateEndpoint(0x500, (e, _, _) =>
        {
            try
            {
                // Every host tx buffer is with the remote's echo, whose replies fill the host's rx ring.
                gate.Wait(TimeSpan.FromSeconds(30));
                e.SendTo(0x400, [2], TimeSpan.FromSeconds(30));
            }
            catch (Exception ex)
            {
                failure = ex;
            }
            finally
            {
                done.Set();
            }
        });
        hostTrigger.SendTo(0x500, [1]);
        while (hostSink.TrySendTo(0x400, [3]))
        {
        }
        gate.Set();
        Assert.True(done.Wait(TimeSpan.FromSeconds(60)), "the blocked callback's send did not complete");
        Assert.Null(failure);
        GC.KeepAlive(remoteEcho);
    }

    [Fact]
    public void Batch_RxMessagesCountsAMessageOnlyOnceItIsDelivered()
    {
        // Whoever sees the count must see the message (tests and users wait on RxMessages, then read the queue).
        using var loop = RpmsgLoopback.BothCallerPoll();
        var sender = loop.Remote.CreateEndpoint(0x400);
        long before = loop.Host.Counters.RxMessages;
        var seen = new List<long>();
        loop.Host.CreateEndpoint(0x500, (_, _, _) => seen.Add(loop.Host.Counters.RxMessages - before));
        for (int i = 0; i < 3; i++)
            Assert.True(sender.TrySendTo(0x500, [(byte)i]));

        Assert.Equal(3, loop.Host.Poll()); // one batch of three
        Assert.Equal([0L, 1L, 2L], seen);
        Assert.Equal(3, loop.Host.Counters.RxMessages - before);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Batch_CallbackStopsOrBreaksTheDevice_AZeroCopyMessageAfterItIsNotDelivered(bool breakIt)
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        var sender = loop.Remote.CreateEndpoint(0x400);
        loop.Host.CreateEndpoint(0x500, (_, _, _) =>
        {
            if (breakIt)
                loop.Host.Break(new Fault(FaultLayer.Rpmsg, FaultRule.HeldBufferRedelivered, "test", 1, "broken by the test's callback"));
            else
                loop.Host.Stop();
        });
        bool delivered = false;
        loop.Host.CreateZeroCopyEndpoint(0x501, (_, buffer) =>
        {
            delivered = true;
            buffer.Dispose();
        });
        Assert.True(sender.TrySendTo(0x500, [1])); // batched (copied); its callback ends the device
        Assert.True(sender.TrySendTo(0x501, [2])); // zero-copy, after it in the same pass

        try
        {
            loop.Host.Poll();
        }
        catch (RpmsgDeviceUnavailableException)
        {
            // Ended under the Poll: either outcome of the Poll itself is fine, delivery is what is checked.
        }
        Assert.Equal(breakIt ? RpmsgDeviceState.Broken : RpmsgDeviceState.Stopped, loop.Host.State);
        Assert.False(delivered, "a zero-copy message was delivered after a callback ended the device");
    }

    private static int FillHostRing(RpmsgEndpoint sender)
    {
        int sent = 0;
        while (sender.TrySendTo(0x500, [(byte)sent]))
            sent++;
        return sent;
    }
}
