using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// A spinning reader polls the rx ring beside a dispatcher thread asleep on the doorbell with notifications on (it
/// went idle before the reader came). With EVENT_IDX the reader's takes leave the event where the dispatcher armed
/// it: the peer kicks once, for the first message, not for every one (a system call on its side and a wake-up of
/// the dispatcher in each round trip). A plain Poll moves the event along, as Linux's virtqueue_get_buf does: it
/// has no sleeper beside it to count on. Both roles; the dispatcher is kept asleep (its kicks muted, counted).
/// </summary>
public class RpmsgReaderPollEventTests
{
    private const int Messages = 10;

    [Theory]
    [InlineData(true, true, 1)]
    [InlineData(true, false, Messages)]
    [InlineData(false, true, 1)]
    [InlineData(false, false, Messages)]
    public void PollsBesideASleepingDispatcher_PeerKicks(bool readerOnHost, bool spinningReader, int expectedKicks)
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.IdleRecheckInterval = TimeSpan.FromMinutes(10),
            remote: o => o.IdleRecheckInterval = TimeSpan.FromMinutes(10),
            deviceFeatures: RpmsgFeatures.NameService | VirtioFeatures.EventIndex,
            hookedDoorbells: true);
        var (readerDevice, peerDevice) = readerOnHost ? (loop.Host, loop.Remote) : (loop.Remote, loop.Host);
        var readerBell = (HookedDoorbell)(readerOnHost ? loop.HostBell : loop.RemoteBell);
        var peerBell = (HookedDoorbell)(readerOnHost ? loop.RemoteBell : loop.HostBell);
        var peerInner = readerOnHost ? loop.RemoteDoorbell : loop.HostDoorbell;
        var reader = readerDevice.CreateEndpoint(0x500);
        var sender = peerDevice.CreateEndpoint(0x501);

        // The reader's dispatcher has armed the event and sleeps; the peer's kicks are counted, not delivered.
        Assert.True(readerBell.RingAndWaitUntilIdle(() => peerInner.Ring()), "the reader's dispatcher did not go idle");
        peerBell.Muted = true;
        int before = peerBell.Rings;

        var destination = new byte[8];
        for (byte i = 1; i <= Messages; i++)
        {
            Assert.True(sender.TrySendTo(0x500, [i]));
            if (spinningReader)
            {
                var direct = new RpmsgDirectReceive(reader.ReceiveQueue!, destination);
                Assert.Equal(1, readerDevice.Rx.Poll(ref direct));
                Assert.True(direct.Done);
            }
            else
            {
                Assert.Equal(1, readerDevice.Poll());
                Assert.Equal(1, reader.Receive(destination, TimeSpan.Zero).Length);
            }
            Assert.Equal(i, destination[0]);
        }
        Assert.Equal(expectedKicks, peerBell.Rings - before);
    }
}
