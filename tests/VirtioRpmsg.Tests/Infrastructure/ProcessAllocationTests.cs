using VirtioRpmsg.Tests.Memory;

namespace VirtioRpmsg.Tests.Infrastructure;

/// <summary>Both verdicts of <see cref="ProcessAllocation"/>; alone (after the parallel tests), as the tests using it run.</summary>
[Collection(nameof(ResourceCountingCollection))]
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

    [Fact]
    public async Task AnyRoundWithin_NothingAllocated_Passes()
    {
        long sum = 0;
        var allocation = await ProcessAllocation.MeasureAsync(n =>
        {
            for (int i = 0; i < n; i++)
                sum += i;
            return Task.CompletedTask;
        }, warmup: 100, messagesPerRound: 5_000);

        Assert.True(allocation.AnyRoundWithin(1), allocation.ToString());
        Assert.True(sum > 0);
    }
}
