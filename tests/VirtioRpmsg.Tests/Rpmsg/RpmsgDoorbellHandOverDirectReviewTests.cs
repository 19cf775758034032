using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.DoorbellHandOverKit;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Review (rereview-waits): the holder's own poll copies its message into its destination (ef1356d) only where nothing
/// a reader sees changes: a message too big stays queued for the reader's ArgumentException, and a message queued
/// behind the one copied keeps its place.
/// </summary>
public sealed class RpmsgDoorbellHandOverDirectReviewTests
{
    private static RpmsgLoopback Loop() => InterruptLoopOnOneWaiterDoorbells(RpmsgWaitStrategy.Interrupt);

    [Fact]
    public void HoldersDestinationTooSmall_TheMessageStaysQueued_AndTheReaderIsTold()
    {
        using var loop = Loop();
        var queue = loop.Host.CreateEndpoint(0x500);
        var peer = loop.Remote.CreateEndpoint(0x501);
        var reader = new Reader(queue, new byte[2]).Task;
        AwaitHeld(loop, () => !reader.IsCompleted);
        peer.SendTo(0x500, [1, 2, 3, 4]);
        Assert.True(((IAsyncResult)reader).AsyncWaitHandle.WaitOne(Bound), "the reader still waits");
        Assert.Throws<ArgumentException>(() => reader.GetAwaiter().GetResult());
        Assert.Equal(RpmsgQueueBudget.Cost(4), queue.ReceiveQueue!.ChargedIn); // queued, not handed over
        var buffer = new byte[16];
        Assert.True(queue.TryReceive(buffer, TimeSpan.Zero, out var result));
        Assert.Equal(new RpmsgReceiveResult(0x501, 4), result);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, buffer[..4]);
    }

    [Fact]
    public void TwoMessagesInOneBatch_TheFirstGoesToTheHolder_TheSecondStaysQueuedInOrder()
    {
        using var loop = Loop();
        var queue = loop.Host.CreateEndpoint(0x500);
        var peer = loop.Remote.CreateEndpoint(0x501);
        for (byte round = 1; round <= 5; round++)
        {
            var buffer = new byte[16];
            var reader = new Reader(queue, buffer).Task;
            AwaitHeld(loop, () => !reader.IsCompleted);
            peer.SendTo(0x500, [round, 1]);
            peer.SendTo(0x500, [round, 2]);
            Assert.True(reader.Wait(Bound));
            Assert.Equal(new byte[] { round, 1 }, buffer[..2]);
            var next = new byte[16];
            Assert.True(queue.TryReceive(next, Bound, out var second));
            Assert.Equal(2, second.Length);
            Assert.Equal(new byte[] { round, 2 }, next[..2]);
            Assert.False(queue.TryReceive(next, TimeSpan.Zero, out _));
        }
    }
}
