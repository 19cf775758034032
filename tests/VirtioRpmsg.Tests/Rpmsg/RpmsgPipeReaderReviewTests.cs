using System.Buffers;
using System.IO.Pipelines;
using System.Reflection;
using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.RpmsgPipeReaderTests;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Review of <see cref="RpmsgPipeReader"/> against the <see cref="PipeReader"/> contract as
/// <see cref="Pipe"/>'s reader keeps it: a read returns new bytes, the end of input or a cancellation, never an empty
/// result for nothing (a zero-length message is no bytes, as an empty flush wakes no Pipe reader); TryRead reports the
/// end of input as ReadAsync does; a read does not grow the buffer by an empty array when nothing more is queued.
/// </summary>
public class RpmsgPipeReaderReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ZeroLengthMessage_AloneQueued_IsNoResult_TheReadWaitsForBytes()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        Deliver(loop, peer, Array.Empty<byte>());

        var read = pipe.Input.ReadAsync();
        var early = read.IsCompleted ? await read : default;
        Assert.False(read.IsCompleted, $"completed with {early.Buffer.Length} bytes, canceled={early.IsCanceled}, completed={early.IsCompleted}");
        Deliver(loop, peer, [1, 2]);
        var result = await read.AsTask().WaitAsync(Bound);

        Assert.Equal(new byte[] { 1, 2 }, result.Buffer.ToArray());
        pipe.Input.AdvanceTo(result.Buffer.End);
        await pipe.DisposeAsync();
    }

    [Fact]
    public async Task ZeroLengthMessage_CompletingAParkedRead_KeepsItParked_UntilBytesArrive()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        var parked = pipe.Input.ReadAsync();
        Assert.False(parked.IsCompleted);
        Assert.Equal(1, AsyncReadersParked(pipe));

        Deliver(loop, peer, Array.Empty<byte>()); // served to the parked receive, whose continuation runs on the pool
        loop.WaitUntil(() => parked.IsCompleted || AsyncReadersParked(pipe) == 1, "the read ends, or receives again and parks");
        var early = parked.IsCompleted ? await parked : default;
        Assert.False(parked.IsCompleted, $"completed with {early.Buffer.Length} bytes, canceled={early.IsCanceled}, completed={early.IsCompleted}");
        Deliver(loop, peer, [7]);
        var result = await parked.AsTask().WaitAsync(Bound);

        Assert.Equal(new byte[] { 7 }, result.Buffer.ToArray());
        pipe.Input.AdvanceTo(result.Buffer.End);
        await pipe.DisposeAsync();
    }

    [Fact]
    public async Task ZeroLengthMessage_ReadThroughAsStream_IsNotAnEmptyRead()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        var stream = pipe.Input.AsStream(leaveOpen: true);
        var buffer = new byte[8];
        var read = stream.ReadAsync(buffer).AsTask();
        Assert.Equal(1, AsyncReadersParked(pipe));

        Deliver(loop, peer, Array.Empty<byte>());
        loop.WaitUntil(() => read.IsCompleted || AsyncReadersParked(pipe) == 1, "the stream's read ends, or receives again and parks");
        Deliver(loop, peer, [3, 4, 5]);
        int n = await read.WaitAsync(Bound); // the stream adapter rejects an empty result neither completed nor cancelled

        Assert.Equal(3, n);
        Assert.Equal(new byte[] { 3, 4, 5 }, buffer.AsSpan(0, n).ToArray());
        await pipe.DisposeAsync();
    }

    [Fact]
    public async Task ZeroLengthMessage_TryRead_FindsNothing()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        Deliver(loop, peer, Array.Empty<byte>());

        bool got = pipe.Input.TryRead(out var result);

        Assert.False(got, $"TryRead returned {result.Buffer.Length} bytes for a zero-length message");
        Deliver(loop, peer, [9]);
        Assert.True(pipe.Input.TryRead(out result));
        Assert.Equal(new byte[] { 9 }, result.Buffer.ToArray());
        pipe.Input.AdvanceTo(result.Buffer.End);
        await pipe.DisposeAsync();
    }

    [Fact]
    public async Task TryRead_AfterTheEndpointIsDestroyed_ReportsTheEnd_AsReadAsyncDoes()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        Deliver(loop, peer, [1]);
        Assert.True(pipe.Input.TryRead(out var first));
        pipe.Input.AdvanceTo(first.Buffer.End);

        pipe.Endpoint.Dispose();

        Assert.True(pipe.Input.TryRead(out var end), "TryRead never reports the end of input (a Pipe's does, once its writer completed)");
        Assert.True(end.IsCompleted);
        Assert.True(end.Buffer.IsEmpty);
        pipe.Input.AdvanceTo(end.Buffer.End);
        await pipe.DisposeAsync();
    }

    [Fact]
    public async Task TryRead_AfterTheDeviceStopped_ThrowsWhy_AsReadAsyncDoes()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;

        loop.Host.Stop("test stops");

        var e = Assert.Throws<RpmsgDeviceUnavailableException>(() => pipe.Input.TryRead(out var none));
        Assert.Contains("test stops", e.Message);
        await Assert.ThrowsAsync<RpmsgDeviceUnavailableException>(() => pipe.Input.ReadAsync().AsTask().WaitAsync(Bound));
        await pipe.DisposeAsync();
    }

    [Fact]
    public async Task OneMessage_WithLargeBuffers_IsOneSegment_NoEmptyArrayAppendedForWhatIsNotQueued()
    {
        var (loop, pipe, peer) = CallerPolled(bufferSize: 4096, vringNum: 16); // MaxPayload 4080: a 4 KiB array has no room for a second
        using var _ = loop;
        for (int i = 0; i < 3; i++)
        {
            Deliver(loop, peer, new byte[100]);
            var read = await pipe.Input.ReadAsync();

            Assert.Equal(100, read.Buffer.Length);
            Assert.True(read.Buffer.IsSingleSegment, "an empty array was appended after the message, for a message not queued");
            pipe.Input.AdvanceTo(read.Buffer.End);
        }
        await pipe.DisposeAsync();
    }

    // Async receives listed on the pipe's endpoint queue (its sleeper count: no blocking reader here).
    private static int AsyncReadersParked(RpmsgDuplexPipe pipe)
    {
        var queue = typeof(RpmsgEndpoint).GetField("_queue", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(pipe.Endpoint)!;
        var sleepers = typeof(RpmsgEndpointQueue).GetField("_sleepers", BindingFlags.NonPublic | BindingFlags.Instance)!;
        return (int)sleepers.GetValue(queue)!;
    }
}
