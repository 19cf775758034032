using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform;

/// <summary>
/// A disposed <see cref="DescriptorPassing"/> must not use its socket's number once the kernel has given it to another
/// socket: a send would hand a memfd to a stranger, a receive would take the stranger's message. The tests make the
/// reuse happen (the kernel gives out the lowest free number), so they run alone: no other test may take the number.
/// </summary>
[Collection(DescriptorCountCollection.Name)]
public sealed class DescriptorPassingDisposedTests
{
    [Fact]
    public void SendMemory_AfterDispose_ThrowsObjectDisposedAndSendsNothingIntoTheSocketThatReusedTheNumber()
    {
        using var region = SharedMemoryRegion.CreateMemFd("vrpmsg-test-disposed-send", 4096);
        using var stranger = new ReusedNumber(DisposedChannel(out var channel));

        var thrown = Record.Exception(() => channel.SendMemory(region));

        // What arrived on the unrelated socket? Read it as a descriptor channel would.
        using var receiver = DescriptorPassing.Wrap(stranger.TakePeer(), "unrelated");
        SharedMemoryRegion? leaked = null;
        var received = Record.Exception(() => leaked = receiver.ReceiveMemory(TimeSpan.Zero));
        string got = leaked is null ? $"nothing ({received?.GetType().Name})" : $"a working region '{leaked.Name}' of {leaked.Size} bytes";
        leaked?.Dispose();
        Assert.True(thrown is ObjectDisposedException && leaked is null,
            $"SendMemory on a disposed DescriptorPassing threw {thrown?.GetType().Name ?? "nothing"}; " +
            $"the unrelated socket that now has fd {stranger.Number} received {got}.");
    }

    [Fact]
    public void ReceiveMemory_AfterDispose_ThrowsObjectDisposedAndLeavesTheMessageOfTheSocketThatReusedTheNumber()
    {
        using var region = SharedMemoryRegion.CreateMemFd("vrpmsg-test-disposed-receive", 4096);
        using var stranger = new ReusedNumber(DisposedChannel(out var channel));
        // The stranger's own peer sends it a region: that message is the stranger's alone.
        using (var sender = DescriptorPassing.Wrap(stranger.TakePeer(), "unrelated sender"))
            sender.SendMemory(region);

        SharedMemoryRegion? taken = null;
        var thrown = Record.Exception(() => taken = channel.ReceiveMemory(TimeSpan.Zero));
        taken?.Dispose();

        Assert.True(thrown is ObjectDisposedException && taken is null,
            $"ReceiveMemory on a disposed DescriptorPassing threw {thrown?.GetType().Name ?? "nothing"} and " +
            $"{(taken is null ? "took nothing" : "took the region sent to the unrelated socket with fd " + stranger.Number)}.");
    }

    /// <summary>One end of a pair, disposed (its peer too); returns the number it had.</summary>
    private static int DisposedChannel(out DescriptorPassing channel)
    {
        var (first, second) = DescriptorPassing.CreatePair();
        second.Dispose();
        int number = first.Socket.Value;
        first.Dispose();
        channel = first;
        return number;
    }

    /// <summary>Socket pairs opened until one end gets <see cref="Number"/> (the lowest free number); closes them all on Dispose.</summary>
    private sealed class ReusedNumber : IDisposable
    {
        private readonly List<int> _opened = [];
        private int _peer = -1;

        public ReusedNumber(int number)
        {
            Number = number;
            for (int i = 0; i < 64 && _peer < 0; i++)
            {
                Assert.Equal(0, Native.SocketPair(Native.SockSeqPacket, out int x, out int y));
                _opened.Add(x);
                _opened.Add(y);
                if (x == number)
                    _peer = y;
                else if (y == number)
                    _peer = x;
            }
            if (_peer < 0)
                Dispose();
            Assert.True(_peer >= 0, $"fd {number} was not reused by 64 socket pairs");
        }

        /// <summary>The reused descriptor number.</summary>
        public int Number { get; }

        /// <summary>The other end of the socket that got <see cref="Number"/>; the caller owns it from now on.</summary>
        public FileDescriptor TakePeer()
        {
            _opened.Remove(_peer);
            return new FileDescriptor(_peer);
        }

        public void Dispose()
        {
            foreach (int fd in _opened)
                Native.Close(fd);
            _opened.Clear();
        }
    }
}
