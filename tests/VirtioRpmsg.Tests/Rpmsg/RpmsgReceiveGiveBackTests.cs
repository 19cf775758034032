using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// A take gives back the buffer taken before it (<see cref="IRpmsgTransport.TryReceive"/>'s release) in the same gate
/// entry, unpublished while more messages wait, and the take that finds nothing publishes every buffer given back and
/// kicks the peer if it asked: the receive side's batch publication (one index store before any callback) with two gate
/// entries fewer per message. Both roles; the rings are read directly, nobody polls (both devices caller-polled).
/// </summary>
public class RpmsgReceiveGiveBackTests
{
    private const int Messages = 3;

    // RpmsgLoopback's layout (its region starts at device address 0, so an address is an offset): vring 0 carries the
    // remote's messages, vring 1 the host's.
    private static readonly RpmsgVdevLayout Layout = RpmsgVdevLayout.OpenAmpLinux(new AddressMap());
    private static readonly VringLayout Ring = new(Layout.VringNum, Layout.VringAlign);
    private static readonly long Vring0 = (long)Layout.Vring0Address;
    private static readonly long Vring1 = (long)Layout.Vring1Address;

    private static ushort ReadUInt16(RpmsgLoopback loop, long offset)
    {
        using var lease = loop.Region.Acquire();
        return lease.ReadUInt16(offset);
    }

    private static uint Destination(in RpmsgBufferRef buffer)
    {
        using var lease = buffer.Region.Acquire();
        Span<byte> header = stackalloc byte[RpmsgHeader.Size];
        lease.ReadBytes(buffer.Offset, header);
        return RpmsgHeader.Read(header).Destination;
    }

    // Takes the Messages messages one after the other, each take giving back the one before, then takes once more
    // (finding nothing); observe runs before the first take and after each one.
    private static void TakeAll(IRpmsgTransport transport, uint destination, Action observe)
    {
        observe();
        int release = -1;
        for (int i = 0; i < Messages; i++)
        {
            Assert.True(transport.TryReceive(release, out var buffer), $"message {i} was not there");
            Assert.Equal(destination + (uint)i, Destination(buffer));
            release = buffer.Id;
            observe();
        }
        Assert.False(transport.TryReceive(release, out _));
        observe();
    }

    // One role's receive side with Messages messages waiting for it, sent by the other role: the receiving transport,
    // where the peer reads this side's index of returned buffers, where the peer asks to be kicked, and this side's
    // doorbell. The host's returned rx buffers are vring 0's avail.idx; the remote's returned requests vring 1's used.idx.
    private static (RpmsgLoopback Loop, IRpmsgTransport Transport, long Index, long Event, LoopbackDoorbell Bell, uint First) Receiving(bool host)
    {
        var loop = RpmsgLoopback.BothCallerPoll();
        var (from, to) = host ? (loop.Remote, loop.Host) : (loop.Host, loop.Remote);
        uint first = host ? 0x500u : 0x400u;
        var sender = from.CreateEndpoint(host ? 0x400u : 0x500u);
        for (int i = 0; i < Messages; i++)
            Assert.True(sender.TrySendTo(first + (uint)i, [(byte)i]));
        return host
            ? (loop, to.Transport!, Vring0 + Ring.AvailOffset + 2, Vring0 + Ring.AvailEventOffset, loop.HostDoorbell, first)
            : (loop, to.Transport!, Vring1 + Ring.UsedOffset + 2, Vring1 + Ring.UsedEventOffset, loop.RemoteDoorbell, first);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GivenBackWhileMoreWait_PublishedOnlyByTheTakeThatFindsNothing(bool host)
    {
        var (loop, transport, index, _, _, first) = Receiving(host);
        using var _ = loop;

        var seen = new List<ushort>();
        TakeAll(transport, first, () => seen.Add(ReadUInt16(loop, index)));

        ushort before = seen[0];
        Assert.All(seen.Take(seen.Count - 1), i => Assert.Equal(before, i));
        Assert.Equal((ushort)(before + Messages), seen[^1]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PeerAskedForAKick_OnlyTheTakeThatFindsNothingRingsIt(bool host)
    {
        var (loop, transport, index, @event, bell, first) = Receiving(host);
        using var _ = loop;
        // The peer asks to be kicked once this side publishes past the index it has now (EVENT_IDX).
        using (var lease = loop.Region.Acquire())
            lease.WriteUInt16(@event, lease.ReadUInt16(index));
        long rings = bell.RingCount;
        var ringsSeen = new List<long>();

        TakeAll(transport, first, () => ringsSeen.Add(bell.RingCount - rings));

        // Before the takes, after each of the three that found a message, after the one that found nothing.
        Assert.Equal(new long[] { 0, 0, 0, 0, 1 }, ringsSeen);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PeerAskedForNoKick_TheTakeThatFindsNothingPublishesWithoutRinging(bool host)
    {
        var (loop, transport, index, @event, bell, first) = Receiving(host);
        using var _ = loop;
        // The event sits behind the index: publishing the three buffers does not pass it (EVENT_IDX).
        using (var lease = loop.Region.Acquire())
            lease.WriteUInt16(@event, (ushort)(lease.ReadUInt16(index) - 1));
        long rings = bell.RingCount;
        ushort before = ReadUInt16(loop, index);

        TakeAll(transport, first, () => { });

        Assert.Equal((ushort)(before + Messages), ReadUInt16(loop, index));
        Assert.Equal(0, bell.RingCount - rings);
    }

    [Theory]
    [InlineData(true, 256)]
    [InlineData(true, -2)]
    [InlineData(false, 256)]
    [InlineData(false, -2)]
    public void ARelease_ThatIsNotAnRxBufferOfThisSide_IsRefusedNamingIt(bool host, int release)
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        var transport = (host ? loop.Host : loop.Remote).Transport!;

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => transport.TryReceive(release, out _));

        Assert.Equal("id", e.ParamName);
        Assert.Equal(release, e.ActualValue);
        Assert.Contains(release.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
    }
}
