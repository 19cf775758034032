using VirtioRpmsg.Rpmsg;
using static VirtioRpmsg.Tests.Rpmsg.RpmsgPipesReviewTests;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review smallrx, item 3: bytes written to a channel pipe's Output after the peer withdrew the channel, left to
/// Complete (or the pipe's dispose), fault <see cref="RpmsgDuplexPipe.Completion"/> with the exception a send to the
/// withdrawn channel throws, and its message says how many bytes were not sent.
/// </summary>
public sealed class SmallRxPipeUnsentReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task UnflushedBytes_PeerWithdrew_CompleteOrDispose_CompletionSaysHowManyBytesWereNotSent(bool dispose)
    {
        var (loop, channel, service) = Channel();
        using var _ = loop;
        var pipe = new RpmsgDuplexPipe(channel.Endpoint);
        pipe.Output.GetSpan(1300)[..1300].Fill(7); // more than one message's worth (MaxPayload 496)
        pipe.Output.Advance(1300);
        LastWordsThenDestroy(loop, channel, service);

        if (dispose)
            await pipe.DisposeAsync();
        else
            pipe.Output.Complete();

        var e = await Record.ExceptionAsync(() => pipe.Completion.WaitAsync(Bound));
        var disposed = Assert.IsType<ObjectDisposedException>(e);
        Assert.Contains("1300 bytes", disposed.Message);
        Assert.Contains("withdrew", disposed.Message);
        Assert.Equal($"rpmsg endpoint 0x{channel.LocalAddress:X}", disposed.ObjectName);
        if (!dispose)
            await pipe.DisposeAsync();
    }
}
