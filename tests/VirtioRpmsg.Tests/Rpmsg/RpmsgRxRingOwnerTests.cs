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
        bool exited = false;
        var waiter = Task.Run(() =>
        {
            owner.Enter();
            bool sawExit = Volatile.Read(ref exited);
            owner.Exit();
            return sawExit;
        });
        Volatile.Write(ref exited, true);
        owner.Exit();
        Assert.True(waiter.Wait(TimeSpan.FromSeconds(30)));
        Assert.True(waiter.Result);
    }
}
