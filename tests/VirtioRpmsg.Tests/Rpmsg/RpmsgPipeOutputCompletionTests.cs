using System.Buffers;
using System.IO.Pipelines;
using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.RpmsgPipeReaderTests;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Review (pipes3): <see cref="RpmsgDuplexPipe.Output"/> after <see cref="PipeWriter.Complete"/>, as a .NET user of
/// System.IO.Pipelines expects it, and what a <c>Complete(exception)</c> that drops unflushed bytes reports.
/// </summary>
public class RpmsgPipeOutputCompletionTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    // What System.IO.Pipelines' Pipe (.NET 10) does with its writer completed, checked here against the real thing:
    // FlushAsync returns (synchronously) a result neither cancelled nor completed, Advance(0) does nothing, and only
    // GetMemory/GetSpan throw InvalidOperationException. Ours threw from FlushAsync and Advance(0) too, so code that
    // completes the writer in a finally and then flushes (or advances by nothing) failed on our pipe only.
    [Fact]
    public async Task Output_AfterComplete_FlushAsyncAndAdvanceZero_DoNotThrow_AsAPipesWriter()
    {
        var reference = new Pipe();
        await reference.Writer.WriteAsync(new byte[] { 1 });
        reference.Writer.Complete();
        var theirFlush = reference.Writer.FlushAsync();
        Assert.True(theirFlush.IsCompletedSuccessfully, "set-up: a Pipe's flush after Complete completes at once");
        var theirs = theirFlush.Result;
        reference.Writer.Advance(0);
        Assert.Throws<InvalidOperationException>(() => reference.Writer.GetMemory());
        Assert.Throws<InvalidOperationException>(() => reference.Writer.GetSpan());

        var (loop, pipe, peer) = CallerPolled();
        using var owned = loop;
        await pipe.Output.WriteAsync(new byte[] { 1 });
        pipe.Output.Complete();

        var flushed = Record.Exception(() =>
        {
            var flush = pipe.Output.FlushAsync();
            Assert.True(flush.IsCompletedSuccessfully, "a flush after Complete completes at once, as a Pipe's");
            var ours = flush.Result;
            Assert.Equal(theirs.IsCanceled, ours.IsCanceled);
            Assert.Equal(theirs.IsCompleted, ours.IsCompleted);
        });
        var advanced = Record.Exception(() => pipe.Output.Advance(0));

        Assert.True(flushed is null, $"FlushAsync after Complete: {flushed?.GetType().Name}: {flushed?.Message}");
        Assert.True(advanced is null, $"Advance(0) after Complete: {advanced?.GetType().Name}: {advanced?.Message}");
        Assert.Throws<InvalidOperationException>(() => pipe.Output.GetMemory());
        Assert.Throws<InvalidOperationException>(() => pipe.Output.GetSpan());
        Assert.ThrowsAny<Exception>(() => pipe.Output.Advance(1)); // nothing to advance through, as for a Pipe
        await pipe.Completion.WaitAsync(Bound);
        loop.Remote.Poll();
        Assert.True(peer.TryReceive(new byte[8], TimeSpan.Zero, out var only), "the byte written before Complete was sent");
        Assert.Equal(1, only.Length);
        Assert.False(peer.TryReceive(new byte[8], TimeSpan.Zero, out _), "the flush after Complete sent something more");
    }

    // Complete(exception) dropped what was written and not flushed, and Completion still succeeded: nothing told the
    // application that those bytes never went out (the dispose path already says "N bytes of Output not sent").
    [Fact]
    public async Task Output_CompleteWithException_DropsUnflushedBytes_CompletionFaultsNamingHowMany()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var owned = loop;
        pipe.Output.GetSpan(100)[..100].Fill(7);
        pipe.Output.Advance(100); // written, not flushed
        var failure = new InvalidOperationException("the application's producer failed");

        pipe.Output.Complete(failure);
        var e = await Record.ExceptionAsync(() => pipe.Completion.WaitAsync(Bound));

        Assert.True(e is IOException, $"Completion after Complete(exception) dropped 100 bytes: {(e is null ? "succeeded" : e.GetType().Name + ": " + e.Message)}");
        Assert.Contains("100 bytes", e!.Message, StringComparison.Ordinal);
        Assert.Same(failure, e.InnerException);
        loop.Remote.Poll();
        Assert.False(peer.TryReceive(new byte[128], TimeSpan.Zero, out _), "the dropped bytes were sent after all");
        await pipe.DisposeAsync(); // does not throw it
    }

    // Nothing unflushed: nothing was lost, and Completion says so (the exception is the writer's own business).
    [Fact]
    public async Task Output_CompleteWithException_NothingUnflushed_CompletionSucceeds()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var owned = loop;
        await pipe.Output.WriteAsync(new byte[] { 1, 2 });

        pipe.Output.Complete(new InvalidOperationException("the application's producer failed"));

        await pipe.Completion.WaitAsync(Bound);
        loop.Remote.Poll();
        Assert.True(peer.TryReceive(new byte[8], TimeSpan.Zero, out var got));
        Assert.Equal(2, got.Length);
        await pipe.DisposeAsync();
    }

    // Complete(exception) while a flush waits for tx buffers: the flush ends (the pipe's dispose here) with bytes still
    // unsent, and those are reported through Completion with how many, not dropped silently.
    [Fact]
    public async Task Output_CompleteWithExceptionDuringAWaitingFlush_CompletionFaultsNamingTheBytesNotSent()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => { o.WaitStrategy = RpmsgWaitStrategy.CallerPoll; o.SendTimeout = TimeSpan.FromMinutes(2); },
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        loop.Remote.CreateEndpoint(0x400, (_, _, _) => { });
        var host = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400);
        while (host.TrySend([0xEE]))
        {
        }
        var pipe = new RpmsgDuplexPipe(host);
        var flush = pipe.Output.WriteAsync(new byte[40]);
        Assert.False(flush.IsCompleted, "set-up: no free tx buffer, the flush waits");
        var failure = new InvalidOperationException("the application's producer failed");

        pipe.Output.Complete(failure); // the flush still owns the bytes: the end of the flush finishes the Complete
        await pipe.DisposeAsync(); // ends the waiting flush
        await Record.ExceptionAsync(() => flush.AsTask().WaitAsync(Bound));
        var e = await Record.ExceptionAsync(() => pipe.Completion.WaitAsync(Bound));

        Assert.True(e is IOException, $"Completion: {(e is null ? "succeeded" : e.GetType().Name + ": " + e.Message)}");
        Assert.Contains("40 bytes", e!.Message, StringComparison.Ordinal);
        Assert.Same(failure, e.InnerException);
    }
}
