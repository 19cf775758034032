using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// A peer whose process dies closes its end of a Unix-socket doorbell; the side left is told, whatever its wait
/// strategy: the device breaks naming <see cref="FaultRule.DoorbellClosed"/>, and a reader waiting for a reply that will
/// never come hears it at once. Against the real RPMsg-Lite (tests/interop/rpmsg-lite-real.sh, case restart: its remote
/// killed under a running `rpmsg ping`) interrupt and hybrid broke within milliseconds, but `--wait poll` (CallerPoll:
/// the ping's own loop polls) never did: a Poll only drains the doorbell, and a drain that read the peer's close
/// kept it to itself, so the ping ran into its own 10 s timeout ("no echo", the device still Running, no error counted).
/// </summary>
public class RpmsgDoorbellClosedPollingTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(RpmsgWaitStrategy.CallerPoll)]
    [InlineData(RpmsgWaitStrategy.BusyPoll)]
    [InlineData(RpmsgWaitStrategy.Hybrid)]
    [InlineData(RpmsgWaitStrategy.Interrupt)]
    public void PeerClosesItsSocketDoorbell_WhileTheHostWaitsForAReply_TheHostBreaksNamingIt(RpmsgWaitStrategy strategy)
    {
        string path = Path.Combine(Path.GetTempPath(), $"vrpmsg-closed-{Environment.ProcessId}-{Guid.NewGuid():N}.sock");
        var accepting = Task.Run(() => UnixSocketDoorbell.Accept(path, Bound));
        using var hostBell = UnixSocketDoorbell.Connect(path, Bound);
        using var remoteBell = accepting.Result;
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = strategy,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            hostDoorbell: _ => hostBell,
            remoteDoorbell: _ => remoteBell,
            conventions: RpmsgPeerConventions.RpmsgLite);
        var queue = loop.Host.CreateEndpoint(0x500);
        var peer = loop.Remote.CreateEndpoint(0x501);
        var buffer = new byte[16];
        peer.SendTo(0x500, [1]);
        loop.WaitUntil(() => queue.TryReceive(buffer, TimeSpan.Zero, out _), "the first message");

        remoteBell.Dispose(); // the peer's process died: its end of the socket is closed
        string outcome;
        try
        {
            // The request whose reply never comes (a dispatcher thread may have noticed the close already: then the
            // send is refused, which is the same report).
            queue.SendTo(0x501, [2], Bound);
            outcome = Wait(loop.Host, queue, buffer, strategy);
        }
        catch (RpmsgDeviceUnavailableException e)
        {
            outcome = "unavailable: " + e.Message;
        }

        Assert.True(loop.Host.State == RpmsgDeviceState.Broken, $"{strategy}: the host is {loop.Host.State} after its peer closed the doorbell; the reader: {outcome}");
        Assert.Equal(FaultRule.DoorbellClosed, Assert.IsType<Fault>(loop.Host.Fault).Rule);
        Assert.StartsWith("unavailable: ", outcome);
        Assert.Contains("the peer closed its end of the socket", outcome);
    }

    [Fact]
    public void CallerPoll_PeerSendsItsLastMessageAndCloses_TheMessageIsDeliveredBeforeTheBreak()
    {
        string path = Path.Combine(Path.GetTempPath(), $"vrpmsg-closed-{Environment.ProcessId}-{Guid.NewGuid():N}.sock");
        var accepting = Task.Run(() => UnixSocketDoorbell.Accept(path, Bound));
        using var hostBell = UnixSocketDoorbell.Connect(path, Bound);
        using var remoteBell = accepting.Result;
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            hostDoorbell: _ => hostBell,
            remoteDoorbell: _ => remoteBell);
        var queue = loop.Host.CreateEndpoint(0x500);
        var peer = loop.Remote.CreateEndpoint(0x501);
        var buffer = new byte[16];
        peer.SendTo(0x500, [1]);
        loop.WaitUntil(() => queue.TryReceive(buffer, TimeSpan.Zero, out _), "the first message");

        // The peer's last words, then its exit: the message is in the ring (the host asked for no kick: it polls).
        peer.SendTo(0x500, [7]);
        remoteBell.Dispose();
        var until = DateTime.UtcNow + Bound;
        int got = 0;
        try
        {
            while (DateTime.UtcNow < until && got == 0)
            {
                loop.Host.Poll();
                if (queue.TryReceive(buffer, TimeSpan.Zero, out var r))
                    got = buffer[0] + (r.Length << 8);
            }
            while (DateTime.UtcNow < until && loop.Host.State == RpmsgDeviceState.Running)
                loop.Host.Poll(); // until the close is reported
        }
        catch (RpmsgDeviceUnavailableException)
        {
        }

        Assert.Equal(7 + (1 << 8), got);
        Assert.Equal(RpmsgDeviceState.Broken, loop.Host.State);
        Assert.Equal(FaultRule.DoorbellClosed, Assert.IsType<Fault>(loop.Host.Fault).Rule);
    }

    // The application's wait for the reply: its own polling loop under CallerPoll (as `rpmsg ping --wait poll`), a
    // blocking receive otherwise. Both end at the bound at the latest.
    private static string Wait(RpmsgDevice host, RpmsgEndpoint queue, byte[] buffer, RpmsgWaitStrategy strategy)
    {
        if (strategy != RpmsgWaitStrategy.CallerPoll)
            return queue.TryReceive(buffer, Bound, out _) ? "a reply arrived" : "timed out";
        var until = DateTime.UtcNow + Bound;
        var spin = new SpinWait();
        while (DateTime.UtcNow < until)
        {
            host.Poll();
            if (queue.TryReceive(buffer, TimeSpan.Zero, out _))
                return "a reply arrived";
            spin.SpinOnce(sleep1Threshold: 10);
        }
        return "timed out";
    }
}
