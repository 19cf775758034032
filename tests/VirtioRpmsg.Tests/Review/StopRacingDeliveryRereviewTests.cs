using System.Reflection;
using VirtioRpmsg.Chaos;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// rereview-e: 682e12c made Stop close its endpoints' queues as it begins (WakeAll over the endpoints it took from the
/// table), while the dispatcher thread may still be delivering a message it took off the ring into one of them (it
/// looked the endpoint up, entered its callback, and is queueing). Before, those queues closed only after Stop joined
/// the dispatcher, so that message was queued and read after Stop ("Stop keeps the queue"). Now the closed queue refuses
/// it, and the endpoint counted it as a drop of its queue being full: QueueDrops went up and the log said "receive queue
/// full" of an empty queue. A message refused by a queue Stop or Break closed is counted as the device's drop of a
/// message in flight to an endpoint that went away, as the dispatcher counts one it finds destroyed.
/// </summary>
public sealed class StopRacingDeliveryRereviewTests
{
    private const long Budget = ushort.MaxValue + 64L; // the smallest allowed: one largest message
    private const int Payload = 400;

    private static readonly FieldInfo ReadLock = typeof(RpmsgEndpointQueue).GetField("_readLock", BindingFlags.NonPublic | BindingFlags.Instance)!;

    [Fact]
    public void AMessageBeingQueuedWhenStopBegins_IsNotCountedAsTheQueueBeingFull()
    {
        var log = new ChaosLog();
        using var loop = RpmsgLoopback.Create(host: o => { o.MaxQueuedBytes = Budget; o.Logger = log; });
        RpmsgChannel? channel = null;
        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc-full") { Probe = ch => Volatile.Write(ref channel, ch) });
        var live = loop.Host.CreateEndpoint(0x500);
        var service = loop.Remote.CreateNamedEndpoint("svc-full", RpmsgAddress.Any, (_, _, _) => { });
        loop.WaitUntil(() => Volatile.Read(ref channel) is not null, "the channel is probed");

        // The withdrawn channel's unread messages hold the whole budget: the next message's charge takes them back,
        // under their queue's lock, which this test holds. So the dispatcher stops inside the live endpoint's delivery.
        int fits = (int)(Budget / RpmsgQueueBudget.Cost(Payload));
        long rx = loop.Host.Counters.RxMessages;
        for (int i = 0; i < fits; i++)
            service.SendTo(channel!.LocalAddress, new byte[Payload]);
        loop.WaitUntil(() => loop.Host.Counters.RxMessages >= rx + fits, "the channel's messages are queued");
        service.Dispose();
        loop.WaitUntil(() => loop.Host.QueueBudget.RetainedBytes > 0, "the withdrawn channel's messages are retained");
        Assert.True(loop.Host.QueueBudget.RetainedBytes + RpmsgQueueBudget.Cost(Payload) > Budget, "the next message's charge must take the withdrawn channel's room back");
        object readLock = ReadLock.GetValue(channel!.Endpoint.ReceiveQueue)!;

        Task stop;
        Monitor.Enter(readLock);
        try
        {
            loop.Remote.CreateEndpoint(0x501).SendTo(0x500, new byte[Payload]);
            Assert.True(SpinWait.SpinUntil(() => ReferenceEquals(Volatile.Read(ref loop.Host.Rx.ThreadCallback), live), TimeSpan.FromSeconds(30)),
                "the dispatcher did not enter the live endpoint's delivery");
            stop = Task.Run(() => loop.Host.Stop());
            Assert.True(SpinWait.SpinUntil(() => loop.Host.State == RpmsgDeviceState.Stopped, TimeSpan.FromSeconds(30)));
            // Stop closes the live queue as it begins (682e12c), then waits for the dispatcher, held here.
            SpinWait.SpinUntil(() => live.ReceiveQueue!.IsClosed, TimeSpan.FromSeconds(5));
        }
        finally
        {
            Monitor.Exit(readLock);
        }
        Assert.True(stop.Wait(TimeSpan.FromSeconds(30)), "Stop did not return");

        var buffer = new byte[Payload];
        bool read = false;
        try
        {
            read = live.TryReceive(buffer, TimeSpan.Zero, out _);
        }
        catch (RpmsgDeviceUnavailableException)
        {
            // Closed and empty: the message was not kept, which a delivery racing Stop may be.
        }
        if (!read)
        {
            Assert.True(live.QueueDrops == 0, $"the endpoint counted {live.QueueDrops} drop(s) of a full queue; its queue was empty and closed by Stop");
            Assert.DoesNotContain(log.Entries, l => l.Contains("receive queue full", StringComparison.Ordinal));
        }
    }
}
