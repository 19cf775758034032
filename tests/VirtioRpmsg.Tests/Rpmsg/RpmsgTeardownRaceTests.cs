using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Hangs and races of issue 14 (items 4, 5, 6): each test orders the threads with events and
/// doorbell hooks, never with sleeps, and every wait is bounded.
/// </summary>
public class RpmsgTeardownRaceTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void Send_StateChangedHandlerDisposesOnBreakSeenBySender_SendReturnsAndDeviceStops()
    {
        // The remote's buffers are half the host's: its first send detects the configuration fault
        // inside the data gate, and the Broken handler disposes the device from that same thread.
        using var loop = RpmsgLoopback.Create(hostBufferSize: 512, remoteBufferSize: 256);
        var ept = loop.Remote.CreateEndpoint(0x430);
        loop.Remote.StateChanged += (device, state) =>
        {
            if (state == RpmsgDeviceState.Broken)
                device.Dispose();
        };

        var send = Task.Run(() => Assert.Throws<RpmsgConfigurationException>(() => ept.SendTo(0x431, [1])));

        Assert.True(send.Wait(Bound), "a sender whose StateChanged handler disposed the device did not return");
        Assert.Equal(RpmsgDeviceState.Stopped, loop.Remote.State);
        Assert.Equal(0, loop.Remote.Gate.InFlight);
    }

    [Fact]
    public void Poll_InterruptModeCallbackSendMustWait_SendCompletesInsteadOfThrowing()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.IdleRecheckInterval = TimeSpan.FromSeconds(60), // Interrupt: the dispatcher waits on the doorbell
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            vringNum: 4,
            hookedDoorbells: true);
        var hostBell = (HookedDoorbell)loop.HostBell;
        var remoteBell = (HookedDoorbell)loop.RemoteBell;
        loop.Remote.CreateEndpoint(0x600);
        Exception? failure = null;
        bool sent = false;
        RpmsgEndpoint hostEpt = null!;
        hostEpt = loop.Host.CreateEndpoint(0x500, (_, _, _) =>
        {
            try
            {
                hostEpt.SendTo(0x600, [2]);
                sent = true;
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        while (hostEpt.TrySendTo(0x600, [1]))
        {
            // All host tx buffers now sit unread in the remote's rx ring.
        }
        // The host dispatcher must not see the next message: mute the remote, ring the host once more
        // and wait (a handshake with the doorbell) until the dispatcher consumed that ring and blocks
        // with nothing pending.
        remoteBell.Muted = true;
        Assert.True(hostBell.RingAndWaitUntilIdle(() => loop.RemoteDoorbell.Ring()), "host dispatcher did not go idle");
        Assert.True(loop.Remote.Endpoints.First(e => e.Address == 0x600).TrySendTo(0x500, [7]));
        long waits = loop.Host.Counters.TxBufferWaits;

        var poll = Task.Run(() => loop.Host.Poll());
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, waits);
        remoteBell.Muted = false;
        loop.Remote.Poll(); // the remote reads the host's messages and returns its tx buffers

        Assert.True(poll.Wait(Bound), "Poll did not return");
        Assert.Null(failure);
        Assert.True(sent);
        Assert.Equal(1, poll.Result);
    }

    [Fact]
    public void Stop_PollInFlightRingingTheDoorbell_ReturnsOnlyAfterThePollLeftTheRing()
    {
        // The remote has a dispatcher thread: only a sender that someone wakes on a kick asks for one
        // (a CallerPoll sender outside a callback does not, so the host's Poll would not ring).
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.Interrupt,
            vringNum: 4,
            hookedDoorbells: true);
        var hostBell = (HookedDoorbell)loop.HostBell;
        loop.Host.CreateEndpoint(0x500, (_, _, _) => { });
        var remoteEpt = loop.Remote.CreateEndpoint(0x600);
        while (remoteEpt.TrySendTo(0x500, [1]))
        {
            // Fill every host rx buffer.
        }
        // A remote sender waits for a host rx buffer: it asks to be kicked when one is posted.
        long waits = loop.Remote.Counters.TxBufferWaits;
        var blocked = Task.Run(() => remoteEpt.SendTo(0x500, [2]));
        RpmsgLoopback.WaitForBlockedSenders(loop.Remote, waits);
        hostBell.HoldNextRing();

        var poll = Task.Run(() => loop.Host.Poll());
        Assert.True(hostBell.InHeldRing.Wait(Bound), "Poll did not re-post an rx buffer and kick");
        using var draining = new ManualResetEventSlim();
        loop.Host.Gate.Draining = draining.Set;
        bool stopReturned = false;
        var stop = Task.Run(() =>
        {
            loop.Host.Stop("test");
            Volatile.Write(ref stopReturned, true);
        });
        // Stop must count the Poll inside its ring write as in flight and wait for it: the gate says
        // when Stop starts waiting for another thread's operation; the Poll is still held there.
        Assert.True(draining.Wait(Bound), "Stop did not wait for the Poll writing the rings");
        bool returnedWhileRinging = Volatile.Read(ref stopReturned);
        hostBell.ReleaseHeldRing.Set();

        Assert.True(stop.Wait(Bound), "Stop did not return");
        Assert.True(poll.Wait(Bound), "Poll did not return");
        Assert.False(returnedWhileRinging, "Stop returned while a Poll was still writing the rings");
        Assert.Equal(0, loop.Host.Gate.InFlight);
        loop.Remote.Stop("test");
        Assert.True(((IAsyncResult)blocked).AsyncWaitHandle.WaitOne(Bound), "the remote's blocked sender did not end after Stop");
    }

    [Fact]
    public void Poll_DuringTheDispatchersLinkUp_BuildsNoSecondTransport()
    {
        GatedVdevControl gated = null!;
        using var loop = RpmsgLoopback.Create(start: false, remoteControl: c => gated = new GatedVdevControl(c));
        loop.Remote.Start();
        loop.Host.Start(); // DRIVER_OK: the remote's dispatcher thread links up and is held inside
        Assert.True(gated.InFirstRead.Wait(Bound), "the remote's dispatcher did not start its link-up");

        var poll = Task.Run(() => loop.Remote.Poll());
        bool pollReturned = poll.Wait(Bound);
        gated.ReleaseFirstRead.Set();

        Assert.True(pollReturned, "a Poll during another thread's link-up did not return");
        Assert.Equal(0, poll.Result);
        Assert.True(loop.Remote.WaitForLinkUp(Bound), "remote link did not come up");
        Assert.Equal(1, gated.FeatureReads);
        var echo = loop.Remote.CreateEndpoint(0x600);
        loop.Host.CreateEndpoint(0x500).SendTo(0x600, [9]);
        var payload = new byte[16];
        Assert.Equal(1, echo.Receive(payload, Bound).Length);
        Assert.Equal(9, payload[0]);
    }

    [Fact]
    public void BeginWait_AfterStop_WritesNoSharedMemory()
    {
        // Without EVENT_IDX, arming writes avail.flags, so any write shows.
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            deviceFeatures: RpmsgFeatures.NameService);
        loop.Host.Stop("test");
        byte[] before = Snapshot(loop.Region);

        loop.Host.Tx.BeginWait(callback: false, Deadline.Within(Timeout.InfiniteTimeSpan));
        loop.Host.Tx.EndWait();

        Assert.Equal(before, Snapshot(loop.Region));
    }

    private static byte[] Snapshot(SharedMemoryRegion region)
    {
        using var lease = region.Acquire();
        return lease.GetReadOnlySpan(0, (int)region.Size).ToArray();
    }
}
