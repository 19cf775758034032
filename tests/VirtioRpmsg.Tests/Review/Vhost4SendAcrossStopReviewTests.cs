using System.Buffers.Binary;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.VhostUser;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (vhost4), suspicion (2): a host rx buffer (vring 0) the stopped device had filled but not published would be
/// taken over by the resumed device as an empty one, its message dropped without a word. Refuted: every vring 0
/// push publishes used.idx at once (nothing is deferred on that queue), so a send either returned with its message on
/// the guest's used ring, or failed (the device stopped first), and the buffers the device still held are taken
/// over as empty ones only when nothing was published in them.
/// </summary>
public sealed class Vhost4SendAcrossStopReviewTests
{
    private static readonly TimeSpan Wait = VhostUserEchoServerRig.Wait;

    [Fact]
    public void RemoteSendsWhileTheGuestStopsAndResumesTheRings_EverySendThatReturnedIsDeliveredOnceInOrder()
    {
        using var rig = new VhostUserEchoServerRig("vhost4-sends");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        guest.WaitForAnnouncement("rpmsg-echo");
        using var ept = host.CreateEndpoint();
        var sent = new List<int>();
        var failures = new List<Exception>();
        var received = new List<int>();
        using var stopReading = new CancellationTokenSource();
        // The guest reads as the messages come (its endpoint's queue is bounded).
        var reader = Task.Factory.StartNew(() =>
        {
            var buffer = new byte[host.MaxPayload];
            try
            {
                while (true)
                {
                    var r = ept.Receive(buffer, Timeout.InfiniteTimeSpan, stopReading.Token);
                    Assert.Equal(4, r.Length);
                    lock (received)
                        received.Add(BinaryPrimitives.ReadInt32LittleEndian(buffer));
                }
            }
            catch (OperationCanceledException)
            {
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        int next = 0;
        for (int round = 0; round < 4; round++)
        {
            var device = rig.Created[^1];
            using var source = device.CreateEndpoint(0x900, (_, _, _) => { });
            int sentBefore;
            lock (sent)
                sentBefore = sent.Count;
            var sender = Task.Factory.StartNew(() =>
            {
                var payload = new byte[4];
                while (true)
                {
                    // Paced by the guest's reading: its endpoint queue (1,024) never overflows, so nothing is dropped there.
                    SpinWait.SpinUntil(() =>
                    {
                        lock (received)
                            return next - received.Count < 512;
                    }, Wait);
                    BinaryPrimitives.WriteInt32LittleEndian(payload, next);
                    try
                    {
                        source.SendTo(ept.Address, payload, Wait);
                    }
                    catch (Exception e) when (e is RpmsgDeviceUnavailableException or ObjectDisposedException)
                    {
                        lock (failures)
                            failures.Add(e);
                        return;
                    }
                    lock (sent)
                        sent.Add(next);
                    next++;
                }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            // The stop lands while the remote sends (bounded: the sender may also finish first).
            SpinWait.SpinUntil(() =>
            {
                lock (sent)
                    return sent.Count >= sentBefore + 20;
            }, Wait);
            var (base0, base1) = guest.StopRings();
            Assert.True(sender.Wait(Wait), "the sender did not end after the stop");
            guest.StartLikeQemu(offered, base0, base1);
        }
        int expected;
        lock (sent)
            expected = sent.Count;
        Assert.True(SpinWait.SpinUntil(() =>
        {
            lock (received)
                return received.Count >= expected;
        }, Wait), $"the guest received {received.Count} of the {expected} messages whose send returned");
        stopReading.Cancel();
        Assert.True(reader.Wait(Wait));
        Assert.Equal(sent, received);
        Assert.Equal(4, failures.Count); // each round's sender ran into its stop (the stop did land mid-stream)
        Assert.Throws<TimeoutException>(() => ept.Receive(new byte[host.MaxPayload], TimeSpan.FromMilliseconds(100))); // none twice
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }
}
