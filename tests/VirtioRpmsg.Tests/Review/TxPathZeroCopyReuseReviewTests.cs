using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (txpath): a zero-copy tx buffer goes to the peer or back to the free buffers exactly once, whatever the
/// application does with it and with copies of it (the struct can be copied): sent then sent again, sent then
/// disposed, disposed through a copy then sent. In both roles every buffer can be taken again afterwards, each once.
/// </summary>
public class TxPathZeroCopyReuseReviewTests
{
    private const int Capacity = 16; // vring 16: 16 tx buffers each way

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ZeroCopy_SendThenSendOrDisposeACopy_TheBufferGoesOutOnce(bool fromHost)
    {
        using var loop = RpmsgLoopback.Create(vringNum: Capacity,
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll, remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var (sender, receiver) = fromHost ? (loop.Host, loop.Remote) : (loop.Remote, loop.Host);
        int arrived = 0;
        var sink = receiver.CreateEndpoint(0x600, (_, _, _) => arrived++);
        var ept = sender.CreateEndpoint(0x700, sink.Address);

        Assert.True(ept.TryGetTxBuffer(out var buffer));
        var copy = buffer;
        buffer.Span[0] = 1;
        buffer.Send(1);
        Assert.IsAssignableFrom<InvalidOperationException>(SendOf(buffer));
        Assert.IsAssignableFrom<InvalidOperationException>(SendOf(copy));
        Assert.IsAssignableFrom<InvalidOperationException>(DisposeOf(copy));
        buffer.Dispose(); // after Send: nothing

        Assert.True(ept.TryGetTxBuffer(out var second));
        var secondCopy = second;
        secondCopy.Dispose(); // given back through the copy
        Assert.IsAssignableFrom<InvalidOperationException>(SendOf(second));
        Assert.IsAssignableFrom<InvalidOperationException>(DisposeOf(second));

        loop.WaitUntil(() => arrived == 1, "the one message sent");
        loop.PollCallerPollDevices();
        loop.PollCallerPollDevices();
        Assert.Equal(1, arrived);
        var ids = new List<int>();
        loop.WaitUntil(() =>
        {
            while (sender.Tx.TryAcquire(out var b))
                ids.Add(b.Id);
            return ids.Count >= Capacity;
        }, $"every tx buffer free again (took {ids.Count})");
        Assert.Equal(Capacity, ids.Distinct().Count());
    }

    private static Exception? SendOf(RpmsgTxBuffer buffer)
    {
        try
        {
            buffer.Send(1);
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    private static Exception? DisposeOf(RpmsgTxBuffer buffer)
    {
        try
        {
            buffer.Dispose();
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }
}
