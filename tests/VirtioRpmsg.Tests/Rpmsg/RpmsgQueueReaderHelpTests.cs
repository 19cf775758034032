using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// A reader spinning in a queue receive (hybrid, busy-poll) polls the rx ring itself and counts as a helper, so the
/// dispatcher thread sleeps instead of spinning against it; the count goes back to zero when it stops.
/// </summary>
public class RpmsgQueueReaderHelpTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void RingOwner_HelperCount_FollowsInAndOut()
    {
        var owner = new RpmsgRxRingOwner();
        Assert.False(owner.HasHelpers);
        owner.HelperIn();
        owner.HelperIn();
        owner.HelperOut();
        Assert.True(owner.HasHelpers);
        owner.HelperOut();
        Assert.False(owner.HasHelpers);
    }

    [Theory]
    [InlineData(RpmsgWaitStrategy.Hybrid)]
    [InlineData(RpmsgWaitStrategy.BusyPoll)]
    public void Receive_SpinningReader_IsAHelperUntilItsMessageArrives(RpmsgWaitStrategy wait)
    {
        // A spin budget far longer than the test: the reader is still spinning when the message is sent.
        using var loop = RpmsgLoopback.Create(host: o =>
        {
            o.WaitStrategy = wait;
            o.HybridSpin = TimeSpan.FromSeconds(60);
            o.BusyPollIdleTimeout = TimeSpan.FromSeconds(60);
        });
        var queue = loop.Host.CreateEndpoint(0x500);
        var sender = loop.Remote.CreateEndpoint(0x501);
        var owner = loop.Host.Rx.Owner;
        var buffer = new byte[8];
        var reader = Task.Factory.StartNew(() => queue.Receive(buffer, Bound), TaskCreationOptions.LongRunning);
        loop.WaitUntil(() => owner.HasHelpers || reader.IsCompleted, "the reader counted as a helper");
        Assert.False(reader.IsCompleted, "Receive returned with nothing sent");
        sender.SendTo(0x500, [9, 8, 7]);
        Assert.True(reader.Wait(Bound));
        Assert.Equal(3, reader.Result.Length);
        Assert.Equal(new byte[] { 9, 8, 7 }, buffer[..3]);
        Assert.False(owner.HasHelpers);
    }

    [Fact]
    public void Receive_UnderInterrupt_NeverHelps()
    {
        using var loop = RpmsgLoopback.Create(host: o => o.WaitStrategy = RpmsgWaitStrategy.Interrupt);
        var queue = loop.Host.CreateEndpoint(0x500);
        var owner = loop.Host.Rx.Owner;
        var reader = Task.Factory.StartNew(() => queue.TryReceive(new byte[8], TimeSpan.FromMilliseconds(200), out _), TaskCreationOptions.LongRunning);
        while (!reader.IsCompleted)
        {
            Assert.False(owner.HasHelpers);
            Thread.Yield();
        }
        Assert.False(reader.Result);
    }
}
