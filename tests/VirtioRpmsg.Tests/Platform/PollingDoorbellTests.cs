using System.Runtime.CompilerServices;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform;

public sealed class PollingDoorbellTests : DoorbellContractTests
{
    protected override DoorbellUnderTest Create()
    {
        var work = new StrongBox<int>();
        var doorbell = new PollingDoorbell(() => Volatile.Read(ref work.Value) != 0);
        return new DoorbellUnderTest(doorbell, () => Volatile.Write(ref work.Value, 1), () => { });
    }

    [Fact]
    public void Ring_NoDoorbell_AlwaysReturnsTrue()
    {
        using var d = new PollingDoorbell(() => false);
        Assert.True(d.Ring());
        Assert.False(d.Drain());
    }

    [Fact]
    public void Wait_PredicateTrueAfterSomeChecks_ReturnsTrueAndStopsChecking()
    {
        int checks = 0;
        using var d = new PollingDoorbell(() => Interlocked.Increment(ref checks) >= 50);
        Assert.True(Bounded.Run(() => d.Wait(Bounded.Limit)));
        Assert.Equal(50, checks);
    }

    [Fact]
    public void Wait_PredicateThrows_ExceptionPropagates()
    {
        using var d = new PollingDoorbell(() => throw new InvalidOperationException("predicate failed"));
        var e = Assert.Throws<InvalidOperationException>(() => d.Wait(TimeSpan.FromSeconds(1)));
        Assert.Equal("predicate failed", e.Message);
    }

    [Fact]
    public void Constructor_NullPredicate_ThrowsArgumentNull()
    {
        Assert.Throws<ArgumentNullException>(() => new PollingDoorbell(null!));
    }
}
