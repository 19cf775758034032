using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.TestPeer;
using VirtioRpmsg.Tests.Infrastructure;

namespace VirtioRpmsg.Tests.Platform;

public sealed class EventFdDoorbellTests : DescriptorDoorbellContractTests
{
    protected override DoorbellUnderTest Create()
    {
        var local = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        var peer = local.CreatePeer();
        return new DoorbellUnderTest(local, () => Assert.True(peer.Ring()), peer.Dispose);
    }

    [Fact]
    public void Ring_CounterSaturated_ReturnsFalseWithoutBlocking()
    {
        using var local = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        // Fill the peer's inbound counter to its maximum (2^64 - 2): one more would block a blocking writer.
        Assert.Equal(8, Native.Write(local.PeerInbound.Value, BitConverter.GetBytes(ulong.MaxValue - 1)));
        Assert.False(Bounded.Run(local.Ring));
    }

    [Fact]
    public void Ring_PeerEndClosed_StillNeverBlocks()
    {
        using var local = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        local.CreatePeer().Dispose();
        // An eventfd cannot tell that nobody reads it: rings succeed into the counter, and never block.
        int delivered = Bounded.Run(() =>
        {
            int n = 0;
            for (int i = 0; i < 1_000_000; i++)
                n += local.Ring() ? 1 : 0;
            return n;
        }, TimeSpan.FromSeconds(120));
        Assert.Equal(1_000_000, delivered);
    }

    [Fact]
    public void CreatePeer_RingsCrossInBothDirections()
    {
        using var host = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        using var peer = host.CreatePeer();
        Assert.True(host.Ring());
        Assert.True(peer.Drain());
        Assert.False(host.Drain());
        Assert.True(peer.Ring());
        Assert.True(host.Drain());
        Assert.False(peer.Drain());
    }

    [Fact]
    public void PassedToChildProcess_PingPongHundredRounds_EveryRoundAnswered()
    {
        const ulong rounds = 100;
        string name = "vrpmsg-test-eventfd-" + Guid.NewGuid().ToString("N");
        using var region = SharedMemoryRegion.CreateMemFd("vrpmsg-test-doorbell", 4096);
        using var doorbell = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        using var listener = DescriptorListener.Listen(name);
        using var peer = PeerProcess.Start("doorbell-eventfd", name, rounds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using (var channel = listener.Accept(Bounded.Limit))
        {
            channel.SendMemory(region);
            channel.SendDoorbell(doorbell);
        }
        peer.Expect("READY", Bounded.Limit);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        for (ulong i = 1; i <= rounds; i++)
        {
            using (var lease = region.Acquire())
                lease.WriteUInt64(DoorbellEventFdPeer.PingOffset, i);
            Assert.True(doorbell.Ring());
            // Re-check memory after every wake: a ring may be spurious or coalesced.
            while (ReadPong(region) != i)
            {
                var left = deadline - DateTime.UtcNow;
                Assert.True(left > TimeSpan.Zero, $"round {i}: no answer within 60 s; peer stderr: {peer.StandardError}");
                doorbell.Wait(left);
            }
        }
        peer.Expect("DONE", Bounded.Limit);
        Assert.Equal(0, peer.WaitForExit(Bounded.Limit));
    }

    private static ulong ReadPong(SharedMemoryRegion region)
    {
        using var lease = region.Acquire();
        return lease.ReadUInt64(DoorbellEventFdPeer.PongOffset);
    }
}
