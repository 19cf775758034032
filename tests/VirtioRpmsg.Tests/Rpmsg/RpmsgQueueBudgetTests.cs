using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// The device-wide budget for queued messages (issue 14, item 7): a remote flooding endpoints nobody
/// reads cannot make us hold more than MaxQueuedBytes; reads and destroys give the budget back.
/// </summary>
public class RpmsgQueueBudgetTests
{
    private const long Budget = ushort.MaxValue + 64L; // the smallest allowed: one largest message
    private const int Payload = 400;
    private static readonly long Cost = Payload + RpmsgQueueBudget.PerMessageOverhead;

    [Fact]
    public void Deliver_UnreadEndpointsFilledPastTheBudget_DropsAndCountsTheRestAndHoldsNoMore()
    {
        using var loop = RpmsgLoopback.Create(host: o => o.MaxQueuedBytes = Budget);
        var first = loop.Host.CreateEndpoint(0x500);
        var second = loop.Host.CreateEndpoint(0x501);
        int fits = (int)(Budget / Cost);
        Send(loop, 0x500, fits + 10);
        Send(loop, 0x501, 5);

        Assert.Equal(fits * Cost, loop.Host.QueueBudget.Used);
        Assert.Equal(10, first.QueueDrops);
        Assert.Equal(5, second.QueueDrops);
        Assert.Equal(15, loop.Host.QueueBudget.Refusals);
        Assert.True(loop.Host.Counters.Dropped >= 15);

        // Reading gives the budget back, and the other endpoint can queue again.
        var buffer = new byte[Payload];
        for (int i = 0; i < fits; i++)
            Assert.Equal(Payload, first.Receive(buffer, TimeSpan.FromSeconds(30)).Length);
        Assert.Equal(0, loop.Host.QueueBudget.Used);
        Send(loop, 0x501, 1);
        Assert.Equal(5, second.QueueDrops);
        Assert.Equal(Cost, loop.Host.QueueBudget.Used);
    }

    [Fact]
    public void Destroy_EndpointWithQueuedMessages_GivesTheirBudgetBack()
    {
        using var loop = RpmsgLoopback.Create(host: o => o.MaxQueuedBytes = Budget);
        var ept = loop.Host.CreateEndpoint(0x500);
        Send(loop, 0x500, 3);
        Assert.Equal(3 * Cost, loop.Host.QueueBudget.Used);

        ept.Dispose();

        Assert.Equal(0, loop.Host.QueueBudget.Used);
    }

    [Fact]
    public void Options_BudgetSmallerThanOneLargestMessage_IsRejectedNamingTheOption()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new RpmsgDeviceOptions { MaxQueuedBytes = Budget - 1 }.Validate());
        Assert.Equal("MaxQueuedBytes", e.ParamName);
    }

    /// <summary>Sends <paramref name="count"/> messages from the remote and waits until the host dispatched them all.</summary>
    private static void Send(RpmsgLoopback loop, uint destination, int count)
    {
        var sender = loop.Remote.Endpoints.FirstOrDefault(e => e.Address == 0x600) ?? loop.Remote.CreateEndpoint(0x600);
        long before = loop.Host.Counters.RxMessages;
        var payload = new byte[Payload];
        for (int i = 0; i < count; i++)
            sender.SendTo(destination, payload);
        loop.WaitUntil(() => loop.Host.Counters.RxMessages >= before + count, $"{count} messages dispatched");
    }
}
