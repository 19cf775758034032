namespace VirtioRpmsg.Tests.Infrastructure;

public sealed class ProcessAllocationTests
{
    private static object? s_sink;

    [Fact]
    public async Task AnyRoundWithin_AnAllocationPerMessage_FailsEveryRound()
    {
        // 5,000 objects a round in a few milliseconds: far over 1 B/msg plus the allowance for the round's duration.
        var allocation = await ProcessAllocation.MeasureAsync(n =>
        {
            for (int i = 0; i < n; i++)
                s_sink = new byte[64];
            return Task.CompletedTask;
        }, warmup: 100, messagesPerRound: 5_000);

        Assert.False(allocation.AnyRoundWithin(1), allocation.ToString());
        Assert.Contains("5000 messages a round: ", allocation.ToString());
    }
}
