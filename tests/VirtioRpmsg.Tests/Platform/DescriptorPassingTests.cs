using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform;

public sealed class DescriptorPassingTests
{
    private static readonly TimeSpan Limit = Bounded.Limit;

    [Fact]
    public void ReceiveMemory_SentMemFd_MapsTheSameBytes()
    {
        var (a, b) = DescriptorPassing.CreatePair();
        using (a)
        using (b)
        using (var region = SharedMemoryRegion.CreateMemFd("vrpmsg-test-pass", 8192, deviceAddress: 0x8000_0000))
        {
            a.SendMemory(region);
            using var received = b.ReceiveMemory(Limit);
            Assert.Equal(0x8000_0000ul, received.DeviceAddress);
            Assert.Equal(8192, received.Size);
            Assert.Contains("vrpmsg-test-pass", received.Name);
            using (var lease = region.Acquire())
                lease.WriteUInt64(4096, 0x1122334455667788);
            using (var lease = received.Acquire())
                Assert.Equal(0x1122334455667788ul, lease.ReadUInt64(4096));
        }
    }

    [Fact]
    public void ReceiveDoorbell_SentEventFds_PeerEndsAreSwapped() => WithPassedDoorbell((host, remote) =>
    {
        Assert.True(host.Ring());
        Assert.True(remote.Drain());
        Assert.False(host.Drain());
        Assert.True(remote.Ring());
        Assert.True(host.Drain());
    });

    [Fact]
    public void ReceiveDoorbell_ReceivedDescriptors_AreCloseOnExec() => WithPassedDoorbell((_, remote) =>
    {
        // The received pair is the remote's inbound and outbound (its "peer" views, swapped).
        Assert.True(IsCloseOnExec(remote.PeerInbound.Value), "received outbound eventfd is not close-on-exec");
        Assert.True(IsCloseOnExec(remote.PeerOutbound.Value), "received inbound eventfd is not close-on-exec");
    });

    private static void WithPassedDoorbell(Action<EventFdDoorbell, EventFdDoorbell> check)
    {
        var (a, b) = DescriptorPassing.CreatePair();
        using (a)
        using (b)
        using (var host = EventFdDoorbell.Create("vrpmsg-test-pass"))
        {
            a.SendDoorbell(host);
            using var remote = b.ReceiveDoorbell(Limit);
            check(host, remote);
        }
    }

    [Fact]
    public void ReceiveMemory_NothingSent_ThrowsTimeout()
    {
        var (a, b) = DescriptorPassing.CreatePair();
        using (a)
        using (b)
            Assert.Throws<TimeoutException>(() => b.ReceiveMemory(TimeSpan.FromMilliseconds(50)));
    }

    [Fact]
    public void ReceiveMemory_Cancelled_ThrowsOperationCanceled()
    {
        var (a, b) = DescriptorPassing.CreatePair();
        using (a)
        using (b)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
            Assert.ThrowsAny<OperationCanceledException>(() => Bounded.Run(() => b.ReceiveMemory(Timeout.InfiniteTimeSpan, cts.Token)));
        }
    }

    [Fact]
    public void ReceiveMemory_PeerClosed_ThrowsEndOfStream()
    {
        var (a, b) = DescriptorPassing.CreatePair();
        using (b)
        {
            a.Dispose();
            Assert.Throws<EndOfStreamException>(() => b.ReceiveMemory(Limit));
        }
    }

    [Fact]
    public void ReceiveMemory_GarbageMessage_ThrowsInvalidDataNamingMagic()
    {
        var (a, b) = DescriptorPassing.CreatePair();
        using (a)
        using (b)
        {
            var junk = new byte[32];
            junk.AsSpan().Fill(0xEE);
            Assert.Equal(32, Native.Write(a.Socket.Value, junk));
            var e = Assert.Throws<InvalidDataException>(() => b.ReceiveMemory(Limit));
            Assert.Contains("magic is 0xEEEEEEEE", e.Message);
        }
    }

    [Fact]
    public void SendMemory_RegionWithoutDescriptor_ThrowsArgumentNamingRegion()
    {
        var (a, b) = DescriptorPassing.CreatePair();
        using (a)
        using (b)
        using (var region = SharedMemoryRegion.CreateAnonymous(4096, name: "vrpmsg-test-anon"))
        {
            var e = Assert.Throws<ArgumentException>(() => a.SendMemory(region));
            Assert.Contains("vrpmsg-test-anon", e.Message);
        }
    }

    [Fact]
    public void Connect_ListenerByAbstractName_TransfersMemory()
    {
        string name = "vrpmsg-test-pass-" + Guid.NewGuid().ToString("N");
        using var listener = DescriptorListener.Listen(name);
        var accept = Task.Factory.StartNew(() => listener.Accept(Limit), TaskCreationOptions.LongRunning);
        using var client = DescriptorPassing.Connect(name, Limit);
        using var server = Bounded.Await(accept);
        using var region = SharedMemoryRegion.CreateMemFd("vrpmsg-test-pass", 4096);
        client.SendMemory(region);
        using var received = server.ReceiveMemory(Limit);
        Assert.Equal(4096, received.Size);
        // Abstract names leave nothing on disk.
        Assert.False(File.Exists(name));
    }

    [Fact]
    public void Connect_NoListener_ThrowsTimeoutNamingAddress()
    {
        string name = "vrpmsg-test-pass-" + Guid.NewGuid().ToString("N");
        var e = Assert.Throws<TimeoutException>(() => DescriptorPassing.Connect(name, TimeSpan.FromMilliseconds(50)));
        Assert.Contains("@" + name, e.Message);
    }

    [Fact]
    public void Listen_NameInUse_ThrowsIOExceptionNamingIt()
    {
        string name = "vrpmsg-test-pass-" + Guid.NewGuid().ToString("N");
        using var first = DescriptorListener.Listen(name);
        var e = Assert.Throws<IOException>(() => DescriptorListener.Listen(name));
        Assert.Contains("@" + name, e.Message);
    }

    private static bool IsCloseOnExec(int fd)
    {
        // fdinfo "flags:" is octal; O_CLOEXEC is 02000000.
        string flags = File.ReadLines($"/proc/self/fdinfo/{fd}").First(l => l.StartsWith("flags:", StringComparison.Ordinal))[6..].Trim();
        return (Convert.ToInt64(flags, 8) & 0x80000) != 0;
    }
}
