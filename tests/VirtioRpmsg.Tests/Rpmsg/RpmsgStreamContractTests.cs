using System.Net;
using System.Net.Sockets;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Review (pipes2): <see cref="RpmsgStream"/> against the Stream contract, with the SAME assertions run against a
/// connected <see cref="NetworkStream"/> ("network", over loopback TCP) and against ours ("rpmsg").
/// </summary>
public class RpmsgStreamContractTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    public static TheoryData<string> Kinds => new() { "network", "rpmsg" };

    /// <summary>A stream, and a way to make bytes arrive on it.</summary>
    private interface IUnderTest : IDisposable
    {
        Stream Stream { get; }
        void Feed(byte[] bytes);
    }

    private sealed class Network : IUnderTest
    {
        private readonly Socket _peer;

        public Network()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            _peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            _peer.Connect(listener.LocalEndPoint!);
            Stream = new NetworkStream(listener.Accept(), ownsSocket: true);
        }

        public Stream Stream { get; }

        public void Feed(byte[] bytes) => _peer.Send(bytes);

        public void Dispose()
        {
            Stream.Dispose();
            _peer.Dispose();
        }
    }

    private sealed class Ours : IUnderTest
    {
        private readonly RpmsgLoopback _loop;
        private readonly RpmsgEndpoint _peer;

        public Ours()
        {
            _loop = RpmsgLoopback.Create(
                host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
                remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
            _peer = _loop.Remote.CreateEndpoint(0x400);
            Stream = new RpmsgStream(_loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400));
        }

        public Stream Stream { get; }

        public void Feed(byte[] bytes)
        {
            Assert.True(_peer.TrySendTo(0x500, bytes));
            Assert.Equal(1, _loop.Host.Poll());
        }

        public void Dispose()
        {
            Stream.Dispose();
            _loop.Dispose();
        }
    }

    private static IUnderTest Make(string kind) => kind == "network" ? new Network() : new Ours();

    // The zero-byte read: it waits until data is there (consuming none), so that a reader can rent its buffer only then
    // (as SslStream and StreamPipeReader do). Returning 0 at once made such a loop spin, and 0 reads as the end of stream.
    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ZeroByteReadAsync_WaitsForData_ThenTheNextReadGetsIt(string kind)
    {
        using var t = Make(kind);

        var waiting = t.Stream.ReadAsync(Memory<byte>.Empty).AsTask();
        Assert.False(waiting.IsCompleted, "a zero-byte read with no data there completed at once");
        t.Feed([1, 2, 3]);

        Assert.Equal(0, await waiting.WaitAsync(Bound));
        var buffer = new byte[8];
        int n = await t.Stream.ReadAsync(buffer).AsTask().WaitAsync(Bound);
        Assert.Equal(new byte[] { 1, 2, 3 }, buffer.AsSpan(0, n).ToArray());
    }

    // Review (rereview-budget): a waiting zero-byte read that its token cancels loses nothing that comes after.
    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ZeroByteReadAsync_CancelledWhileWaiting_IsCanceled_ThenTheNextReadGetsTheData(string kind)
    {
        using var t = Make(kind);
        using var cts = new CancellationTokenSource();
        var waiting = t.Stream.ReadAsync(Memory<byte>.Empty, cts.Token).AsTask();
        Assert.False(waiting.IsCompleted);

        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Bound));
        t.Feed([6, 7]);
        Assert.Equal(0, await t.Stream.ReadAsync(Memory<byte>.Empty).AsTask().WaitAsync(Bound));
        var buffer = new byte[8];
        int n = await t.Stream.ReadAsync(buffer).AsTask().WaitAsync(Bound);
        Assert.Equal(new byte[] { 6, 7 }, buffer.AsSpan(0, n).ToArray());
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ZeroByteRead_DataThere_ReturnsZero_AndConsumesNothing(string kind)
    {
        using var t = Make(kind);
        t.Feed([4, 5]);

        Assert.Equal(0, t.Stream.Read(Span<byte>.Empty));
        Assert.Equal(0, await t.Stream.ReadAsync(Memory<byte>.Empty).AsTask().WaitAsync(Bound));
        var buffer = new byte[8];
        int n = t.Stream.Read(buffer);
        Assert.Equal(new byte[] { 4, 5 }, buffer.AsSpan(0, n).ToArray());
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task AfterDispose_CanFlagsFalse_ReadsAndWritesThrowObjectDisposed(string kind)
    {
        using var t = Make(kind);
        var s = t.Stream;

        s.Dispose();

        Assert.False(s.CanRead);
        Assert.False(s.CanWrite);
        Assert.False(s.CanSeek);
        var buffer = new byte[4];
        Assert.Throws<ObjectDisposedException>(() => s.Read(buffer));
        Assert.Throws<ObjectDisposedException>(() => s.Write(buffer));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => Assert.Equal(0, await s.ReadAsync(buffer)));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await s.WriteAsync(buffer));
        s.Dispose(); // again: nothing
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task CopyToAsync_Cancelled_EndsCancelled_AfterCopyingWhatCame(string kind)
    {
        using var t = Make(kind);
        int copied = 0;
        using var copy = new CountingStream(n => Interlocked.Add(ref copied, n));
        using var cts = new CancellationTokenSource();
        t.Feed([1, 2, 3]);
        var copying = t.Stream.CopyToAsync(copy, cts.Token);
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref copied) == 3 || copying.IsCompleted, Bound), "the bytes were copied");

        cts.Cancel();

        var e = await Record.ExceptionAsync(() => copying.WaitAsync(Bound));
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.True(copying.IsCanceled, $"CopyToAsync ended {copying.Status}");
        Assert.Equal(new byte[] { 1, 2, 3 }, copy.ToArray());
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Seeking_NotSupported(string kind)
    {
        using var t = Make(kind);

        Assert.Throws<NotSupportedException>(() => t.Stream.Length);
        Assert.Throws<NotSupportedException>(() => t.Stream.Position);
        Assert.Throws<NotSupportedException>(() => t.Stream.Seek(0, SeekOrigin.Begin));
        Assert.Throws<NotSupportedException>(() => t.Stream.SetLength(0));
    }

    private sealed class CountingStream(Action<int> wrote) : MemoryStream
    {
        public override void Write(byte[] buffer, int offset, int count)
        {
            base.Write(buffer, offset, count);
            wrote(count);
        }

        public override void Write(ReadOnlySpan<byte> buffer) => Write(buffer.ToArray(), 0, buffer.Length);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer, offset, count);
            return Task.CompletedTask;
        }
    }
}
