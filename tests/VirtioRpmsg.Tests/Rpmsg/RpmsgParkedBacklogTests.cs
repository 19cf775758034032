using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

public class RpmsgParkedBacklogTests
{
    private static RpmsgParkedBacklog Allocated(int capacity, int slotSize, RpmsgQueueBudget? budget = null)
    {
        var backlog = new RpmsgParkedBacklog(capacity, slotSize, budget);
        backlog.EnsureAllocated();
        return backlog;
    }

    private static void Park(RpmsgParkedBacklog backlog, uint source, byte value, int length)
    {
        backlog.Reserve(source, 0x400, length).Fill(value);
        backlog.Commit();
    }

    [Fact]
    public void TryPeek_Empty_ReturnsFalse()
    {
        var backlog = Allocated(4, 8);
        Assert.False(backlog.TryPeek(out _, out _, out _));
    }

    [Fact]
    public void TryPeek_SeveralParked_ReturnsThemInArrivalOrder()
    {
        var backlog = Allocated(4, 8);
        Park(backlog, 1, 0xA1, 3);
        Park(backlog, 2, 0xB2, 8);
        for (uint expected = 1; expected <= 2; expected++)
        {
            Assert.True(backlog.TryPeek(out uint source, out uint destination, out var payload));
            Assert.Equal(expected, source);
            Assert.Equal(0x400u, destination);
            Assert.Equal(expected == 1 ? 3 : 8, payload.Length);
            Assert.All(payload.ToArray(), b => Assert.Equal(expected == 1 ? 0xA1 : 0xB2, b));
            backlog.Pop();
        }
        Assert.Equal(0, backlog.Count);
    }

    [Fact]
    public void IsFull_AtCapacity_TrueAndWrapsAfterPop()
    {
        var backlog = Allocated(2, 4);
        Park(backlog, 1, 1, 1);
        Park(backlog, 2, 2, 1);
        Assert.True(backlog.IsFull);
        backlog.Pop();
        Assert.False(backlog.IsFull);
        Park(backlog, 3, 3, 4); // reuses the first slot
        Assert.True(backlog.TryPeek(out uint first, out _, out _));
        Assert.Equal(2u, first);
        backlog.Pop();
        Assert.True(backlog.TryPeek(out uint second, out _, out var payload));
        Assert.Equal(3u, second);
        Assert.Equal(new byte[] { 3, 3, 3, 3 }, payload.ToArray());
    }

    [Fact]
    public void Reserve_DuringPeekedCallback_AppendsBehindTheOccupiedSlot()
    {
        var backlog = Allocated(3, 4);
        Park(backlog, 1, 1, 1);
        Assert.True(backlog.TryPeek(out _, out _, out var running));
        Park(backlog, 2, 2, 1); // parked while the first message's callback runs
        Assert.Equal(1, running[0]);
        backlog.Pop();
        Assert.True(backlog.TryPeek(out uint next, out _, out _));
        Assert.Equal(2u, next);
    }

    [Fact]
    public void TryGrow_WrappedBacklog_DoublesAndKeepsArrivalOrder()
    {
        var budget = new RpmsgQueueBudget(1 << 20);
        var backlog = Allocated(3, 4, budget);
        Park(backlog, 1, 1, 1);
        backlog.Pop();
        for (byte i = 2; i <= 4; i++)
            Park(backlog, i, i, i); // wraps: slots 1, 2, 0
        Assert.True(backlog.IsFull);
        Assert.True(backlog.TryGrow());
        Assert.Equal(6, backlog.Capacity);
        Assert.True(budget.Used > 0);
        for (byte i = 5; i <= 7; i++)
            Park(backlog, i, i, 2);
        Assert.True(backlog.IsFull);
        for (uint expected = 2; expected <= 7; expected++)
        {
            Assert.True(backlog.TryPeek(out uint source, out _, out var payload));
            Assert.Equal(expected, source);
            Assert.All(payload.ToArray(), b => Assert.Equal((byte)expected, b));
            backlog.Pop();
        }
        Assert.Equal(3, backlog.Capacity); // empty: the fixed slots again
        Assert.Equal(0, budget.Used);
    }

    [Fact]
    public void TryGrow_DuringPeekedCallback_RunningPayloadStaysIntactAndPopsFirst()
    {
        var backlog = Allocated(1, 4, new RpmsgQueueBudget(1 << 20));
        Park(backlog, 1, 0xA1, 4);
        Assert.True(backlog.TryPeek(out _, out _, out var running));
        Assert.True(backlog.TryGrow()); // the callback on the first message is blocked and parks more
        Park(backlog, 2, 0xB2, 4);
        Assert.All(running.ToArray(), b => Assert.Equal(0xA1, b));
        backlog.Pop();
        Assert.True(backlog.TryPeek(out uint next, out _, out var payload));
        Assert.Equal(2u, next);
        Assert.All(payload.ToArray(), b => Assert.Equal(0xB2, b));
    }

    [Fact]
    public void TryGrow_BeyondTheBudget_RefusesAndChargesNothing()
    {
        var budget = new RpmsgQueueBudget(4 * (8 + 16)); // four added slots of 8 bytes and their entries
        var backlog = Allocated(2, 8, budget);
        Park(backlog, 1, 1, 1);
        Park(backlog, 2, 2, 1);
        Assert.True(backlog.TryGrow()); // 2 -> 4: two slots charged
        long charged = budget.Used;
        Park(backlog, 3, 3, 1);
        Park(backlog, 4, 4, 1);
        Assert.False(backlog.TryGrow()); // 4 -> 8 needs four more
        Assert.Equal(charged, budget.Used);
        Assert.Equal(0, budget.Refusals); // not a dropped message
        Assert.True(backlog.IsFull);
        Assert.False(Allocated(2, 8).TryGrow()); // no budget: fixed
    }

    [Fact]
    public void HandOverCharge_MovesAtMostTheGrowthChargeAndTheShrinkRefundsOnlyTheRest()
    {
        var budget = new RpmsgQueueBudget(1 << 20);
        var backlog = Allocated(1, 8, budget);
        Park(backlog, 1, 1, 1);
        Assert.True(backlog.TryGrow()); // one slot added: 8 + 16 bytes charged
        Park(backlog, 2, 2, 1);
        Assert.Equal(24, budget.Used);
        backlog.HandOverCharge(10);
        Assert.Equal(14, budget.Used);
        backlog.Pop();
        backlog.HandOverCharge(100); // more than is left: only the rest
        Assert.Equal(0, budget.Used);
        backlog.Pop(); // empty: shrinks, nothing left to refund (a double refund would go below zero)
        Assert.Equal(0, budget.Used);
        Assert.Equal(1, backlog.Capacity);
        backlog.HandOverCharge(100); // not grown: nothing charged, nothing moves
        Assert.Equal(0, budget.Used);
    }

    [Fact]
    public void TryGrow_AfterAnEmptiedBurst_ReusesTheLargestSlotsWithoutAllocating()
    {
        var budget = new RpmsgQueueBudget(1 << 20);
        var backlog = Allocated(2, 8, budget);
        var order = new uint[8];
        bool Burst(int messages)
        {
            // No asserts inside: only the backlog's own work between the allocation readings.
            for (int i = 0; i < messages; i++)
            {
                if (backlog.IsFull && !backlog.TryGrow())
                    return false;
                backlog.Reserve((uint)i, 0x400, 1)[0] = (byte)i;
                backlog.Commit();
            }
            for (int i = 0; i < messages; i++)
            {
                if (!backlog.TryPeek(out order[i], out _, out _))
                    return false;
                backlog.Pop();
            }
            return true;
        }
        Assert.True(Burst(8)); // 2 -> 4 -> 8, then back to 2
        Assert.Equal([0u, 1, 2, 3, 4, 5, 6, 7], order);
        Assert.Equal(2, backlog.Capacity);
        Assert.Equal(0, budget.Used);

        long before = GC.GetAllocatedBytesForCurrentThread();
        bool ok = Burst(8); // 2 -> 8 at once, into the kept slots
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(ok);
        Assert.Equal(0, allocated);
        Assert.Equal([0u, 1, 2, 3, 4, 5, 6, 7], order);
        Assert.Equal(0, budget.Used);
    }

    [Fact]
    public void TryGrow_KeptSlotsBeyondWhatTheBudgetLeavesNow_StillDoubles()
    {
        // Slots of 8 bytes, 24 charged each: 2 -> 4 -> 8 costs 48 + 96.
        var budget = new RpmsgQueueBudget(1 << 20);
        var backlog = Allocated(2, 8, budget);
        for (uint i = 0; i < 8; i++)
        {
            if (backlog.IsFull)
                Assert.True(backlog.TryGrow());
            Park(backlog, i, (byte)i, 8);
        }
        while (backlog.Count > 0)
            backlog.Pop(); // kept: the 8 slots
        // The endpoint queues now hold all but one doubling's worth: the kept slots (144 more) do not fit, 2 -> 4 (48) does.
        Assert.True(budget.TryReserve((1 << 20) - 48));
        Park(backlog, 1, 1, 8);
        Park(backlog, 2, 2, 8);

        long before = GC.GetAllocatedBytesForCurrentThread();
        bool grown = backlog.TryGrow();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(grown, "a doubling the budget covers was refused");
        Assert.Equal(0, allocated); // into part of the kept slots
        Assert.Equal(4, backlog.Capacity);
        Assert.Equal(1 << 20, budget.Used);
        Assert.True(backlog.TryPeek(out uint first, out _, out _));
        Assert.Equal(1u, first);
    }
}
