using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Memory;

/// <summary>
/// The lease guarantee without holes (issue 14, item 2): a copy of a disposed lease refuses access at
/// run time, and a span handed out by a lease, an rx view or a tx buffer cannot leave its scope at
/// compile time.
/// </summary>
public class LeaseGuaranteeTests
{
    [Fact]
    public void CopiedLease_OriginalDisposed_CopyRefusesEveryAccessAndIsNotActive()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        var original = region.Acquire();
        var copy = original;
        original.Dispose();

        Assert.False(copy.IsActive);
        Assert.IsType<ObjectDisposedException>(Catch(copy, static l => l.ReadByte(0)));
        Assert.IsType<ObjectDisposedException>(Catch(copy, static l => l.GetSpan(0, 1)[0] = 1));
        Assert.IsType<ObjectDisposedException>(Catch(copy, static l => l.WriteUInt32Release(0, 1)));
        Assert.Equal(0, MappingLease.HeldByCurrentThread);
    }

    [Fact]
    public void CopiedLease_ItsSlotTakenByANewLease_CopyStillRefuses()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        var original = region.Acquire();
        var copy = original;
        original.Dispose();
        using var next = region.Acquire(); // same thread, same free slot, a new tag

        Assert.True(next.IsActive);
        Assert.False(copy.IsActive);
        Assert.IsType<ObjectDisposedException>(Catch(copy, static l => l.ReadUInt64(0)));
    }

    [Fact]
    public void TxBuffer_CopyAfterTheOriginalWasSent_SpanAndSendThrowAndNothingIsSubmittedTwice()
    {
        using var loop = RpmsgLoopback.Create();
        var received = new System.Collections.Concurrent.ConcurrentQueue<byte>();
        loop.Remote.CreateEndpoint(0x600, (_, _, payload) => received.Enqueue(payload[0]));
        var ept = loop.Host.CreateEndpoint(0x500);
        var buffer = ept.GetTxBuffer(TimeSpan.FromSeconds(30));
        var copy = buffer;
        buffer.Span[0] = 42;
        buffer.SendTo(0x600, 1);

        Assert.IsType<ObjectDisposedException>(Catch(copy, static b => b.Span[0] = 1));
        Assert.IsType<ObjectDisposedException>(Catch(copy, static b => b.SendTo(0x600, 1))); // thrown before the submit: nothing sent twice
        loop.WaitUntil(() => received.Count >= 1, "the original send");
        Assert.Equal([42], received.ToArray());
        Assert.Equal(RpmsgDeviceState.Running, loop.Host.State);
    }

    [Fact]
    public void RxView_CopyAfterTheViewWasDisposed_PayloadThrows()
    {
        using var loop = RpmsgLoopback.Create();
        var held = new System.Collections.Concurrent.ConcurrentQueue<RpmsgRxBuffer>();
        loop.Host.CreateZeroCopyEndpoint(0x500, (_, b) =>
        {
            b.Hold();
            held.Enqueue(b);
        });
        loop.Remote.CreateEndpoint(0x600).SendTo(0x500, [7]);
        loop.WaitUntil(() => held.Count == 1, "held message");
        Assert.True(held.TryPeek(out var buffer));
        var view = buffer.Open();
        var copy = view;
        Assert.Equal(7, view.Payload[0]);
        view.Dispose();

        Assert.IsType<ObjectDisposedException>(Catch(copy, static v => _ = v.Payload[0]));
        buffer.Dispose();
    }

    [Theory]
    [InlineData("lease", "static Span<byte> Escape(SharedMemoryRegion r) { using var lease = r.Acquire(); return lease.GetSpan(0, 8); }")]
    [InlineData("lease, read-only", "static ReadOnlySpan<byte> Escape(SharedMemoryRegion r) { using var lease = r.Acquire(); return lease.GetReadOnlySpan(0, 8); }")]
    [InlineData("lease, out of its block", "static void Escape(SharedMemoryRegion r) { Span<byte> s = default; { using var lease = r.Acquire(); s = lease.GetSpan(0, 8); } s[0] = 1; }")]
    [InlineData("rx view", "static ReadOnlySpan<byte> Escape(RpmsgRxBuffer b) { using var view = b.Open(); return view.Payload; }")]
    [InlineData("tx buffer", "static Span<byte> Escape(RpmsgEndpoint e) { var buffer = e.GetTxBuffer(TimeSpan.Zero); return buffer.Span; }")]
    public void SpanFromALeaseScope_EscapingIt_DoesNotCompile(string what, string body)
    {
        string[] errors = LeaseScopeCompiler.Errors(body);
        Assert.True(errors.Length > 0, $"a span from a {what} escaped its scope and compiled");
        // Only ref-safety errors (CS8352 "may expose referenced variables outside of their declaration
        // scope", CS8347 and kin), not an unrelated mistake in the snippet.
        Assert.All(errors, e => Assert.True(e.StartsWith("CS8352") || e.StartsWith("CS8347") || e.StartsWith("CS8168"), string.Join("\n", errors)));
    }

    [Fact]
    public void SpanFromALeaseScope_UsedInside_Compiles()
    {
        // The control for the theory above: the same code shapes compile when the span stays inside.
        string[] errors = LeaseScopeCompiler.Errors(
            "static int Inside(SharedMemoryRegion r, RpmsgRxBuffer b, RpmsgEndpoint e) {" +
            " using var lease = r.Acquire(); Span<byte> s = lease.GetSpan(0, 8); s[0] = 1;" +
            " using var view = b.Open(); int n = view.Payload.Length;" +
            " var buffer = e.GetTxBuffer(TimeSpan.Zero); buffer.Span[0] = 2; buffer.Dispose();" +
            " return n + lease.GetReadOnlySpan(0, 1)[0]; }");
        Assert.Empty(errors);
    }

    // Lambdas cannot capture ref structs: the copy is handed in by value (one more copy).
    private delegate void RefAction<T>(T value) where T : allows ref struct;

    private static Exception? Catch<T>(T value, RefAction<T> action) where T : allows ref struct
    {
        try
        {
            action(value);
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }
}
