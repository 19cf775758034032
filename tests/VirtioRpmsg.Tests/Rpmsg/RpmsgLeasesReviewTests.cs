using System.Buffers;
using System.IO.Pipelines;
using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.RpmsgPipeReaderTests;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Review of the zero-copy and pipe APIs under misuse: nothing the application does with a buffer, a view or a pipe
/// may hand it memory that another message or another pool renter now owns; each refusal names what was wrong.
/// </summary>
public sealed class RpmsgLeasesReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task PipeInput_CompletedDuringAParkedRead_TheReadFailsNamingComplete_NoBufferOverReleasedArrays()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        Deliver(loop, peer, [1, 2, 3]);
        var first = await pipe.Input.ReadAsync().AsTask().WaitAsync(Bound);
        pipe.Input.AdvanceTo(first.Buffer.Start, first.Buffer.End); // kept, all examined: the next read parks
        var parked = pipe.Input.ReadAsync();
        Assert.False(parked.IsCompleted);

        pipe.Input.Complete(); // a misuse: the pending read's arrays go back to the pool

        ReadResult result = default;
        Exception? thrown = null;
        try
        {
            result = await parked.AsTask().WaitAsync(Bound);
        }
        catch (Exception e)
        {
            thrown = e;
        }
        if (thrown is null)
        {
            var buffer = result.Buffer;
            var reading = Record.Exception(() => buffer.ToArray().Length);
            Assert.Fail($"the parked read returned a {result.Buffer.Length}-byte buffer over arrays Complete gave back to the pool "
                + $"(reading it: {reading?.GetType().Name ?? "no exception"}: {reading?.Message})");
        }
        var refused = Assert.IsType<InvalidOperationException>(thrown);
        Assert.Contains("Complete", refused.Message);
        await pipe.DisposeAsync();
    }

    [Fact]
    public void HeldRxBuffer_DisposedTwice_AfterItsSlotWasReused_DoesNotGiveBackTheNewHoldersBuffer()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            vringNum: 4);
        RpmsgRxBuffer? first = null;
        RpmsgRxBuffer? second = null;
        loop.Host.CreateZeroCopyEndpoint(0x500, (_, buffer) =>
        {
            if (first is null)
            {
                buffer.Hold();
                first = buffer;
            }
            else if (second is null && buffer.Id == first.Id)
            {
                buffer.Hold(); // the same slot, now another message's
                second = buffer;
            }
        });
        var peer = loop.Remote.CreateEndpoint(0x400);
        Assert.True(peer.TrySendTo(0x500, [1]));
        Assert.Equal(1, loop.Host.Poll());
        Assert.NotNull(first);
        first.Dispose();
        for (int i = 0; i < 64 && second is null; i++)
        {
            Assert.True(peer.TrySendTo(0x500, [2, (byte)i]));
            Assert.Equal(1, loop.Host.Poll());
        }
        Assert.NotNull(second);

        first.Dispose(); // documented as idempotent: a second release of the first message

        Assert.True(second.IsLive, "the first message's second Dispose gave back the buffer the second message's holder still holds");
        using (var view = second.Open())
            Assert.Equal(2, view.Payload[0]);
        second.Dispose();
        Assert.Throws<ObjectDisposedException>(() => { using var v = first.Open(); });
    }
}
