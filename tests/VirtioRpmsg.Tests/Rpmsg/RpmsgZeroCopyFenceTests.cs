using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// The application's zero-copy buffers outlive their device's stop only until they end: the stop closes the fence,
/// what is open holds it, a held rx buffer opens no more, and whoever builds a fresh device over the same rings can
/// wait for the rest (RpmsgZeroCopyFence; RpmsgLink.RecoverVdevAsync does).
/// </summary>
public class RpmsgZeroCopyFenceTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void TxBufferOpenAcrossAStop_HoldsTheFenceUntilDisposed()
    {
        using var loop = RpmsgLoopback.Create();
        var ept = loop.Host.CreateEndpoint(0x500, 0x600u);
        var tx = ept.GetTxBuffer(Bound);
        tx.Span[0] = 0xEE;
        Assert.True(Task.Run(() => loop.Host.Stop("test")).Wait(Bound), "the stop waited for the application's tx buffer");
        var fence = loop.Host.ZeroCopy;
        Assert.Equal(1, fence.Open);
        Assert.False(fence.WaitForNone(TimeSpan.Zero));
        tx.Dispose();
        Assert.True(fence.WaitForNone(TimeSpan.Zero));
        Assert.Equal(0, fence.Open);
    }

    [Fact]
    public void TxBufferSentAndDisposed_EachEndsItsAccessOnce()
    {
        using var loop = RpmsgLoopback.Create();
        loop.Remote.CreateEndpoint(0x600, (_, _, _) => { });
        var ept = loop.Host.CreateEndpoint(0x500, 0x600u);
        var sent = ept.GetTxBuffer(Bound);
        sent.Send(1);
        sent.Dispose(); // after a send: nothing more to end
        var dropped = ept.GetTxBuffer(Bound);
        dropped.Dispose();
        dropped.Dispose();
        Assert.Equal(0, loop.Host.ZeroCopy.Open);
    }

    [Fact]
    public void HeldRxBuffer_ViewOpenAcrossAStop_HoldsTheFence_AndOpensNoMoreAfterwards()
    {
        using var loop = RpmsgLoopback.Create();
        var held = new System.Collections.Concurrent.ConcurrentQueue<RpmsgRxBuffer>();
        loop.Host.CreateZeroCopyEndpoint(0x420, (_, buffer) =>
        {
            buffer.Hold();
            held.Enqueue(buffer);
        });
        loop.Remote.CreateEndpoint(0x421).SendTo(0x420, "held"u8);
        loop.WaitUntil(() => held.Count == 1, "held message");
        Assert.True(held.TryPeek(out var buffer));
        var view = buffer.Open();
        Assert.Equal("held", System.Text.Encoding.ASCII.GetString(view.Payload));
        Assert.True(Task.Run(() => loop.Host.Stop("test")).Wait(Bound), "the stop waited for the application's view");
        Assert.Equal(1, loop.Host.ZeroCopy.Open);
        view.Dispose();
        view.Dispose();
        Assert.Equal(0, loop.Host.ZeroCopy.Open);
        // The ring's again: a fresh device over it may have reposted the buffer.
        var e = Assert.Throws<ObjectDisposedException>(() => { using var stale = buffer.Open(); });
        Assert.Contains("has stopped", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, loop.Host.ZeroCopy.Open);
    }

    [Fact]
    public void Fence_ClosedWithNothingOpen_WaitsForNothing_AndRefusesNewAccess()
    {
        var fence = new RpmsgZeroCopyFence();
        Assert.True(fence.TryEnter());
        fence.Exit();
        fence.Close();
        Assert.True(fence.WaitForNone(TimeSpan.Zero));
        Assert.False(fence.TryEnter());
        Assert.Equal(0, fence.Open);
    }
}
