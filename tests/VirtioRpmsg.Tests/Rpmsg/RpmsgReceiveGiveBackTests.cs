using VirtioRpmsg.Memory;
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

    private static readonly VringLayout Ring = new(256, 0x1000);

    // RpmsgLoopback's rings (RpmsgVdevLayout.OpenAmpLinux): vring 0 carries the remote's messages, vring 1 the host's.
    private const long Vring0 = 0x4000;
    private const long Vring1 = 0x8000;

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

    // Takes the Messages messages one after the other, each take giving back the one before, and returns the index the
    // peer sees (read with readIndex) after each take, the last one being the take that finds nothing.
    private static List<ushort> TakeAll(IRpmsgTransport transport, Func<ushort> readIndex, uint destination)
    {
        var seen = new List<ushort> { readIndex() };
        int release = -1;
        for (int i = 0; i < Messages; i++)
        {
            Assert.True(transport.TryReceive(release, out var buffer), $"message {i} was not there");
            Assert.Equal(destination + (uint)i, Destination(buffer));
            release = buffer.Id;
            seen.Add(readIndex());
        }
        Assert.False(transport.TryReceive(release, out _));
        seen.Add(readIndex());
        return seen;
    }

    [Fact]
    public void Host_GivenBackWhileMoreWait_PublishedOnlyByTheTakeThatFindsNothing()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        var sender = loop.Remote.CreateEndpoint(0x400);
        for (int i = 0; i < Messages; i++)
            Assert.True(sender.TrySendTo(0x500 + (uint)i, [(byte)i]));

        var seen = TakeAll(loop.Host.Transport!, () => ReadUInt16(loop, Vring0 + Ring.AvailOffset + 2), 0x500);

        ushort before = seen[0];
        Assert.All(seen.Take(seen.Count - 1), index => Assert.Equal(before, index));
        Assert.Equal((ushort)(before + Messages), seen[^1]);
    }

    [Fact]
    public void Remote_GivenBackWhileMoreWait_PublishedOnlyByTheTakeThatFindsNothing()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        var sender = loop.Host.CreateEndpoint(0x500);
        for (int i = 0; i < Messages; i++)
            Assert.True(sender.TrySendTo(0x400 + (uint)i, [(byte)i]));

        var seen = TakeAll(loop.Remote.Transport!, () => ReadUInt16(loop, Vring1 + Ring.UsedOffset + 2), 0x400);

        ushort before = seen[0];
        Assert.All(seen.Take(seen.Count - 1), index => Assert.Equal(before, index));
        Assert.Equal((ushort)(before + Messages), seen[^1]);
    }

    [Fact]
    public void Host_PeerAskedForAKick_OnlyTheTakeThatFindsNothingRingsIt()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        var sender = loop.Remote.CreateEndpoint(0x400);
        for (int i = 0; i < Messages; i++)
            Assert.True(sender.TrySendTo(0x500 + (uint)i, [(byte)i]));
        // The remote asks to be kicked once the host publishes past the index it has now (avail_event, EVENT_IDX).
        using (var lease = loop.Region.Acquire())
            lease.WriteUInt16(Vring0 + Ring.AvailEventOffset, lease.ReadUInt16(Vring0 + Ring.AvailOffset + 2));
        long rings = loop.HostDoorbell.RingCount;
        var ringsSeen = new List<long>();

        TakeAll(loop.Host.Transport!, () =>
        {
            ringsSeen.Add(loop.HostDoorbell.RingCount - rings);
            return 0;
        }, 0x500);

        // Before the takes, after each of the three that found a message, after the one that found nothing.
        Assert.Equal(new long[] { 0, 0, 0, 0, 1 }, ringsSeen);
    }

    [Fact]
    public void Remote_HostAskedForAKick_OnlyTheTakeThatFindsNothingRingsIt()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        var sender = loop.Host.CreateEndpoint(0x500);
        for (int i = 0; i < Messages; i++)
            Assert.True(sender.TrySendTo(0x400 + (uint)i, [(byte)i]));
        // The host asks to be told once the remote returns past the index it has now (used_event, EVENT_IDX).
        using (var lease = loop.Region.Acquire())
            lease.WriteUInt16(Vring1 + Ring.UsedEventOffset, lease.ReadUInt16(Vring1 + Ring.UsedOffset + 2));
        long rings = loop.RemoteDoorbell.RingCount;
        var ringsSeen = new List<long>();

        TakeAll(loop.Remote.Transport!, () =>
        {
            ringsSeen.Add(loop.RemoteDoorbell.RingCount - rings);
            return 0;
        }, 0x400);

        Assert.Equal(new long[] { 0, 0, 0, 0, 1 }, ringsSeen);
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

        Assert.Equal(release, e.ActualValue);
        Assert.Contains(release.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
    }
}
