using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.DeviceMemory;

/// <summary>
/// An rx view on Device memory is a private copy (RpmsgRxBuffer.Open), but it must keep what a view in place keeps:
/// the buffer stays ours until the view closes, so the slot's object is not armed with the next message, whose copy
/// would go into the same per-slot bounce array the open view shows.
/// </summary>
public class DeviceMemoryRxViewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(SharedMemoryType.Normal)]
    [InlineData(SharedMemoryType.Device)]
    public void ViewOpenedDuringTheHandler_StillOpenAfterItReturns_KeepsShowingItsOwnMessage(SharedMemoryType memory)
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            vringNum: 4, memoryType: memory);
        using var opened = new ManualResetEventSlim();
        using var look = new ManualResetEventSlim();
        RpmsgRxBuffer? first = null;
        int seen = -1, sameObjectAgain = 0;
        Exception? readerFailed = null;
        var reader = new Thread(() =>
        {
            try
            {
                var view = first!.Open(); // while the handler runs: the buffer is live
                try
                {
                    opened.Set();
                    look.Wait(Bound);
                    seen = view.Payload[0];
                }
                finally
                {
                    view.Dispose();
                }
            }
            catch (Exception e)
            {
                readerFailed = e;
                opened.Set();
            }
        });
        loop.Host.CreateZeroCopyEndpoint(0x500, (_, buffer) =>
        {
            if (first is null)
            {
                first = buffer; // not held: handed to a thread that opens it before the handler returns
                reader.Start();
                Assert.True(opened.Wait(Bound));
                return;
            }
            if (ReferenceEquals(buffer, first))
                sameObjectAgain++;
            using var view = buffer.Open();
            Assert.Equal(0x80, view.Payload[0] & 0xF0);
        });
        var peer = loop.Remote.CreateEndpoint(0x400);
        Assert.True(peer.TrySendTo(0x500, [1]));
        Assert.Equal(1, loop.Host.Poll());
        for (int i = 0; i < 12; i++)
        {
            Assert.True(peer.TrySendTo(0x500, [(byte)(0x80 + i)]));
            Assert.Equal(1, loop.Host.Poll());
        }
        look.Set();
        Assert.True(reader.Join(Bound));
        Assert.Null(readerFailed);
        Assert.True(seen == 1,
            $"the view still open on another thread shows 0x{seen:X2}, not its message 0x01: the buffer went back under it and its slot's object was armed {sameObjectAgain} time(s) with later messages");
        Assert.Equal(0, sameObjectAgain);
    }
}
