using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform;

/// <summary>Contract parts specific to doorbells with a real signal (eventfd, socket, UIO): consuming, drain, dispose.</summary>
public abstract class DescriptorDoorbellContractTests : DoorbellContractTests
{
    [Fact]
    public void Wait_RingConsumed_NextWaitTimesOut()
    {
        using var d = Create();
        d.RingFromPeer();
        Assert.True(Bounded.Run(() => d.Local.Wait(Bounded.Limit)));
        Assert.False(Bounded.Run(() => d.Local.Wait(TimeSpan.FromMilliseconds(50))));
    }

    [Fact]
    public void Drain_AfterPeerRing_ReturnsTrueThenFalse()
    {
        using var d = Create();
        Assert.False(d.Local.Drain());
        d.RingFromPeer();
        // The peer's ring is a completed system call: it is pending now.
        Assert.True(d.Local.Drain());
        Assert.False(d.Local.Drain());
    }

    [Fact]
    public void Wait_DisposedWhileWaiting_ThrowsObjectDisposed()
    {
        var d = Create();
        try
        {
            var waiter = Task.Factory.StartNew(() => d.Local.Wait(Timeout.InfiniteTimeSpan), TaskCreationOptions.LongRunning);
            // Whether the waiter is already in poll() or not yet started, it must end with ObjectDisposedException.
            d.Local.Dispose();
            Assert.Throws<ObjectDisposedException>(() => Bounded.Await(waiter));
        }
        finally
        {
            d.Dispose();
        }
    }

    [Fact]
    public void Ring_AfterDispose_ReturnsFalse()
    {
        var d = Create();
        d.Dispose();
        Assert.False(d.Local.Ring());
    }

    [Fact]
    public void Drain_AfterDispose_ThrowsObjectDisposed()
    {
        var d = Create();
        d.Dispose();
        Assert.Throws<ObjectDisposedException>(() => d.Local.Drain());
    }
}
