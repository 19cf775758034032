using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Seed 000 against what the application holds: a zero-copy view or tx buffer in use on one thread while another stops
/// the devices and unmaps the memory. The unmap waits for it (never unmaps under it), and after the memory is mapped
/// again for a new session (same addresses, a new generation), nothing left from the old one (a held rx buffer, a tx
/// buffer sent late) writes a byte of the new mapping. The loopback's region is anonymous: a remap starts all zero, so
/// any stale write shows as a non-zero byte.
/// </summary>
public class ZeroCopyStopRaceReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void RxViewOpenOnAnotherThread_StopAndUnmapWaitForIt_ThenTheStaleHeldBufferTouchesNothingOfTheNewMapping()
    {
        using var loop = RpmsgLoopback.Create();
        RpmsgRxBuffer? held = null;
        loop.Host.CreateZeroCopyEndpoint(0x420, (_, buffer) =>
        {
            buffer.Hold();
            Volatile.Write(ref held, buffer);
        });
        loop.Remote.CreateEndpoint(0x421).SendTo(0x420, "held"u8);
        loop.WaitUntil(() => Volatile.Read(ref held) is not null, "held message");
        var buffer = held!;

        using var opened = new ManualResetEventSlim();
        using var go = new ManualResetEventSlim();
        string? readAfterStop = null;
        var reader = new Thread(() =>
        {
            using var view = buffer.Open();
            opened.Set();
            go.Wait();
            readAfterStop = System.Text.Encoding.ASCII.GetString(view.Payload);
        });
        reader.Start();
        Assert.True(opened.Wait(Bound));

        loop.Host.Stop("test");
        loop.Remote.Stop("test");
        // The view's lease keeps the memory mapped: the unmap gives up rather than unmap under it.
        Assert.Throws<TimeoutException>(() => loop.Region.Unmap(TimeSpan.FromMilliseconds(20)));
        Assert.False(loop.Region.IsMapped);
        Assert.Equal(1, loop.Region.LiveLeases);
        go.Set();
        reader.Join();
        Assert.Equal("held", readAfterStop);
        loop.Region.Unmap(Bound);

        loop.Region.Remap();
        // The stale held buffer after the new mapping: no open, and its releases post nothing into the new rings.
        Assert.ThrowsAny<Exception>(() => { using var stale = buffer.Open(); });
        buffer.Dispose();
        buffer.Dispose();
        AssertAllZero(loop.Region, "after the stale held buffer was opened and disposed");
    }

    [Fact]
    public void TxBufferSentWhileStopUnmapAndRemapRunBetweenItsFillAndItsSubmit_PublishesNothingIntoTheNewMapping()
    {
        using var loop = RpmsgLoopback.Create();
        var ept = loop.Host.CreateEndpoint(0x500, 0x600u);
        bool recovered = false;
        loop.Host.Tx.ApplicationTakeChecked = () =>
        {
            if (recovered)
                return;
            recovered = true;
            // Between the fill (lease ended, fence left) and the submit: a whole stop, unmap and new mapping.
            var recovery = new Thread(() =>
            {
                loop.Host.Stop("test");
                loop.Remote.Stop("test");
                loop.Region.Unmap(Bound);
                loop.Region.Remap();
            });
            recovery.Start();
            recovery.Join();
        };
        var tx = ept.GetTxBuffer(Bound);
        tx.Span.Fill(0xAB);
        Exception? e = null;
        try
        {
            tx.Send(tx.Capacity);
        }
        catch (Exception ex)
        {
            e = ex;
        }
        Assert.True(recovered, "the hook did not run between the fill and the submit");
        Assert.IsType<RpmsgDeviceUnavailableException>(e);
        tx.Dispose();
        AssertAllZero(loop.Region, "after the stale tx buffer's send");
    }

    [Fact]
    public void TxBufferHeldOnAnotherThreadAcrossStop_UnmapWaits_AndItsLateSendIsRefusedWithoutTouchingMemory()
    {
        using var loop = RpmsgLoopback.Create();
        var ept = loop.Host.CreateEndpoint(0x500, 0x600u);
        using var filled = new ManualResetEventSlim();
        using var go = new ManualResetEventSlim();
        Exception? sendFailure = null;
        var sender = new Thread(() =>
        {
            var tx = ept.GetTxBuffer(Bound);
            try
            {
                tx.Span[..4].Fill(0xCD);
                filled.Set();
                go.Wait();
                tx.Send(4);
            }
            catch (Exception ex)
            {
                sendFailure = ex;
            }
            finally
            {
                tx.Dispose();
            }
        });
        sender.Start();
        Assert.True(filled.Wait(Bound));
        loop.Host.Stop("test");
        loop.Remote.Stop("test");
        Assert.Throws<TimeoutException>(() => loop.Region.Unmap(TimeSpan.FromMilliseconds(20)));
        Assert.Equal(1, loop.Region.LiveLeases);
        go.Set();
        sender.Join();
        Assert.IsType<RpmsgDeviceUnavailableException>(sendFailure);
        Assert.Equal(0, loop.Host.ZeroCopy.Open);
        loop.Region.Unmap(Bound);
        loop.Region.Remap();
        AssertAllZero(loop.Region, "after the new mapping");
    }

    private static void AssertAllZero(SharedMemoryRegion region, string when)
    {
        using var lease = region.Acquire();
        var bytes = new byte[region.Size];
        lease.ReadBytes(0, bytes);
        int at = Array.FindIndex(bytes, b => b != 0);
        Assert.True(at < 0, $"{when}: the new mapping has byte 0x{(at < 0 ? 0 : bytes[at]):X2} at offset 0x{at:X}, written by an object of the old session");
    }
}
