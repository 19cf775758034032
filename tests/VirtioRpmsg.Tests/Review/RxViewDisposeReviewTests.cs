using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// A disposed <see cref="RpmsgRxView"/> refuses its payload on every memory type, as a Normal-memory view does: a
/// Device-memory view (a private copy made with aligned loads) must not go on handing out that copy, which the
/// buffer's next message overwrites.
/// </summary>
public class RxViewDisposeReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(SharedMemoryType.Normal)]
    [InlineData(SharedMemoryType.Device)]
    public void Payload_OfADisposedView_ThrowsObjectDisposed(SharedMemoryType memoryType)
    {
        using var loop = RpmsgLoopback.Create(memoryType: memoryType);
        var outcome = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Host.CreateZeroCopyEndpoint(0x440, (_, buffer) =>
        {
            var view = buffer.Open();
            string before = System.Text.Encoding.ASCII.GetString(view.Payload);
            view.Dispose();
            try
            {
                int length = view.Payload.Length;
                outcome.TrySetResult($"{before}: the disposed view still returned {length} bytes");
            }
            catch (ObjectDisposedException)
            {
                outcome.TrySetResult($"{before}: refused");
            }
        });
        loop.Remote.CreateEndpoint(0x441).SendTo(0x440, "view"u8);
        Assert.True(outcome.Task.Wait(Bound), "the handler never ran");
        Assert.Equal("view: refused", outcome.Task.Result);
    }

    [Theory]
    [InlineData(SharedMemoryType.Normal)]
    [InlineData(SharedMemoryType.Device)]
    public void Payload_OfACopyOfADisposedView_ThrowsObjectDisposed(SharedMemoryType memoryType)
    {
        using var loop = RpmsgLoopback.Create(memoryType: memoryType);
        var outcome = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Host.CreateZeroCopyEndpoint(0x440, (_, buffer) =>
        {
            var view = buffer.Open();
            var copy = view;
            view.Dispose();
            try
            {
                int length = copy.Payload.Length;
                outcome.TrySetResult($"a copy of the disposed view still returned {length} bytes");
            }
            catch (ObjectDisposedException)
            {
                outcome.TrySetResult("refused");
            }
        });
        loop.Remote.CreateEndpoint(0x441).SendTo(0x440, "view"u8);
        Assert.True(outcome.Task.Wait(Bound), "the handler never ran");
        Assert.Equal("refused", outcome.Task.Result);
    }
}
