using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

public class RpmsgEndpointTableTests
{
    [Fact]
    public void Claim_Any_ReturnsLowestFreeDynamicAddress()
    {
        using var loop = RpmsgLoopback.Create();
        var table = new RpmsgEndpointTable("t", 8);
        uint first = table.Claim(RpmsgAddress.Any);
        Assert.Equal(RpmsgAddress.FirstDynamic, first);
        table.Add(new RpmsgEndpoint(loop.Host, first, RpmsgAddress.Any, null, null, 4));
        Assert.Equal(RpmsgAddress.FirstDynamic + 1, table.Claim(RpmsgAddress.Any));
    }

    [Fact]
    public void Claim_NameServiceOrTaken_Throws()
    {
        using var loop = RpmsgLoopback.Create();
        var table = new RpmsgEndpointTable("t", 8);
        table.Add(new RpmsgEndpoint(loop.Host, 0x500, RpmsgAddress.Any, null, null, 4));
        Assert.Throws<ArgumentException>(() => table.Claim(RpmsgAddress.NameService));
        Assert.Throws<ArgumentException>(() => table.Claim(0x500));
        Assert.Equal(0x501u, table.Claim(0x501));
    }

    [Fact]
    public void Claim_Full_ThrowsInvalidOperation()
    {
        using var loop = RpmsgLoopback.Create();
        var table = new RpmsgEndpointTable("t", 1);
        table.Add(new RpmsgEndpoint(loop.Host, 0x500, RpmsgAddress.Any, null, null, 4));
        Assert.True(table.IsFull);
        Assert.Throws<InvalidOperationException>(() => table.Claim(RpmsgAddress.Any));
    }

    [Fact]
    public void Remove_AnotherInstanceAtTheAddress_LeavesItPublished()
    {
        using var loop = RpmsgLoopback.Create();
        var table = new RpmsgEndpointTable("t", 8);
        var published = new RpmsgEndpoint(loop.Host, 0x500, RpmsgAddress.Any, null, null, 4);
        var stale = new RpmsgEndpoint(loop.Host, 0x500, RpmsgAddress.Any, null, null, 4);
        table.Add(published);
        Assert.False(table.Remove(stale));
        Assert.True(table.TryGet(0x500, out var found));
        Assert.Same(published, found);
        Assert.True(table.Remove(published));
        Assert.Equal(0, table.Count);
    }
}
