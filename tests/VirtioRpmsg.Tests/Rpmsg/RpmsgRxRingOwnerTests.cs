using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

public class RpmsgRxRingOwnerTests
{
    [Fact]
    public void TryEnter_AlreadyOwned_ReturnsFalse()
    {
        var owner = new RpmsgRxRingOwner();
        Assert.True(owner.TryEnter());
        Assert.False(owner.TryEnter());
        Assert.True(owner.IsOwned);
    }

    [Fact]
    public void TryEnter_AfterExit_Succeeds()
    {
        var owner = new RpmsgRxRingOwner();
        Assert.True(owner.TryEnter());
        owner.Exit();
        Assert.False(owner.IsOwned);
        Assert.True(owner.TryEnter());
    }

    [Fact]
    public void Enter_OwnedByAnotherThread_ReturnsOnlyAfterExit()
    {
        var owner = new RpmsgRxRingOwner();
        Assert.True(owner.TryEnter());
        using var entering = new ManualResetEventSlim();
        var waiter = Task.Run(() =>
        {
            entering.Set();
            owner.Enter();
            owner.Exit();
        });
        Assert.True(entering.Wait(TimeSpan.FromSeconds(30)));
        // A correct Enter never returns while owned, so this cannot flake; a broken one returns at once.
        Assert.False(waiter.Wait(TimeSpan.FromMilliseconds(100)), "Enter returned while another thread owned the ring");
        owner.Exit();
        Assert.True(waiter.Wait(TimeSpan.FromSeconds(30)));
    }
}
