using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

public class RpmsgParkedBacklogTests
{
    private static RpmsgParkedBacklog Allocated(int capacity, int slotSize)
    {
        var backlog = new RpmsgParkedBacklog(capacity, slotSize);
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
}
