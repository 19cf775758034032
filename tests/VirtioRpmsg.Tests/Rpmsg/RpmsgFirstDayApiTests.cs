using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.RpmsgPipesReviewTests;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Friction a first-day user met (the twenty-first session's review): a channel had no send with a timeout of its own
/// (only the device-wide <c>SendTimeout</c>, or a detour through <c>Endpoint</c>), and a zero-copy send of too many
/// bytes named a <c>payload</c> parameter that <c>RpmsgTxBuffer.Send(int length)</c> does not have.
/// </summary>
public sealed class RpmsgFirstDayApiTests
{
    [Fact]
    public void ChannelSend_WithATimeout_WaitsThatLongForABuffer_AndSendsNothing()
    {
        var (loop, channel, _) = Channel();
        using var __ = loop;
        while (channel.TrySend([0]))
        {
            // the remote is not polled: every tx buffer stays with it
        }
        long sent = loop.Host.Counters.TxMessages;

        var e = Assert.Throws<TimeoutException>(() => channel.Send([1, 2, 3], TimeSpan.FromMilliseconds(20)));

        Assert.Contains("20 ms", e.Message, StringComparison.Ordinal);
        Assert.Equal(sent, loop.Host.Counters.TxMessages);
        Assert.Throws<ArgumentOutOfRangeException>(() => channel.Send([1], TimeSpan.FromMilliseconds(-5)));
    }

    [Fact]
    public void ZeroCopySend_OfMoreThanTheCapacity_NamesLength_AndKeepsTheBuffer()
    {
        var (loop, channel, _) = Channel();
        using var __ = loop;
        Assert.True(channel.Endpoint.TryGetTxBuffer(out var tx));
        int capacity = tx.Capacity;

        RpmsgPayloadTooLargeException? tooLarge = null;
        try
        {
            tx.Send(capacity + 1);
        }
        catch (RpmsgPayloadTooLargeException e)
        {
            tooLarge = e;
        }

        Assert.NotNull(tooLarge);
        Assert.Equal("length", tooLarge.ParamName);
        Assert.Equal(capacity + 1, tooLarge.PayloadLength);
        tx.Send(capacity); // still held: it can be sent
        Assert.Equal(1, loop.Host.Counters.TxMessages);
    }
}
