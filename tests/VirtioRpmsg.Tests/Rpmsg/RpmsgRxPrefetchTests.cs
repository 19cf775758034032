using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// The host prefetches the rx buffers it expects next (the order it posted them); the guess is a hint only. A device
/// that fills and returns buffers out of that order must still deliver each message from the buffer its used element names.
/// </summary>
public class RpmsgRxPrefetchTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void Receive_DeviceReturnsBuffersOutOfPostingOrder_EveryMessageReadFromItsOwnBuffer()
    {
        using var loop = RpmsgLoopback.Create(host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var received = new List<byte>();
        loop.Host.CreateEndpoint(0x500, (_, _, payload) => received.Add(payload[0]));
        var remote = loop.Remote.CreateEndpoint(0x600);
        for (int round = 0; round < 40; round++)
        {
            // Two host rx buffers taken in posting order, returned in reverse: the used ring names the second first.
            Assert.True(remote.TryGetTxBuffer(out var first));
            Assert.True(remote.TryGetTxBuffer(out var second));
            first.Span[0] = (byte)(2 * round);
            second.Span[0] = (byte)(2 * round + 1);
            second.SendTo(0x500, 1);
            first.SendTo(0x500, 1);
            loop.WaitUntil(() => received.Count == 2 * (round + 1), "both messages delivered");
        }

        var expected = Enumerable.Range(0, 40).SelectMany(r => new[] { (byte)(2 * r + 1), (byte)(2 * r) });
        Assert.Equal(expected, received);
    }
}
