using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Interop;

/// <summary>
/// RPMsg-Lite returns the other side's buffers without a kick, whatever that side asks (its master puts consumed rx
/// buffers back on vring 0's avail ring, its remote consumed tx buffers on vring 1's used ring, neither kicks unless
/// built with RL_ALLOW_CONSUMED_BUFFERS_NOTIFICATION); its own sides poll for a buffer every RL_MS_PER_INTERVAL (1 ms).
/// Found against the real RPMsg-Lite (tests/interop/rpmsg-lite-real.sh): its master sending bursts to our remote with
/// RL_BUFFER_COUNT 2 saw echoes stall for up to 0.5-1 s (our IdleRecheckInterval) each time our remote ran out of the
/// master's rx buffers. Here the RPMsg-Lite side is this stack with those kicks muted, and IdleRecheckInterval is
/// a minute, so a sender that waits for a kick (or the recheck) cannot finish within the test's bound.
/// </summary>
public sealed class RpmsgLiteUnsignalledReturnTests
{
    private const int Messages = 6; // three times the two buffers each way of RL_BUFFER_COUNT 2
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(Sender.Thread)]
    [InlineData(Sender.Callback)]
    [InlineData(Sender.Async)]
    public void OurRemote_OutOfTheMastersRxBuffers_SendsOnceTheyAreBackWithoutAKick(Sender how)
    {
        // The RPMsg-Lite master: returns its rx buffers (vring 0) without a kick.
        var muted = new VringMutedDoorbell(vring: 0);
        using var loop = RpmsgLoopback.Create(
            remote: o => o.IdleRecheckInterval = TimeSpan.FromMinutes(1),
            vringNum: 2, conventions: RpmsgPeerConventions.RpmsgLite, start: false,
            hostDoorbell: d => muted.Wrap(d));
        loop.Start(); // link-up rings vring 0: not muted yet
        int received = 0;
        using var sink = loop.Host.CreateEndpoint(0x400, (_, _, _) => Interlocked.Increment(ref received));
        using var sender = loop.Remote.CreateEndpoint(0x401, (ep, _, _) => SendAll(ep));
        muted.Muted = true;

        var run = Run(how, sender, () => sink.SendTo(0x401, "go"u8, Bound)); // "go": the remote's callback sends them all

        Assert.True(run.Wait(Bound), "the sender did not finish");
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref received) == Messages, Bound),
            $"{Volatile.Read(ref received)}/{Messages} messages arrived; the remote's sender waited for a kick RPMsg-Lite never sends\n"
            + $"remote: {loop.Remote.Dump()}");
    }

    [Theory]
    [InlineData(Sender.Thread)]
    [InlineData(Sender.Callback)]
    [InlineData(Sender.Async)]
    public void OurHost_OutOfTxBuffers_SendsOnceTheRemoteReturnedThemWithoutAKick(Sender how)
    {
        // The RPMsg-Lite remote: puts consumed tx buffers on vring 1's used ring without a kick.
        var muted = new VringMutedDoorbell(vring: 1);
        using var loop = RpmsgLoopback.Create(
            host: o => o.IdleRecheckInterval = TimeSpan.FromMinutes(1),
            vringNum: 2, conventions: RpmsgPeerConventions.RpmsgLite, start: false,
            remoteDoorbell: d => muted.Wrap(d));
        loop.Start();
        int received = 0;
        using var sink = loop.Remote.CreateEndpoint(0x401, (_, _, _) => Interlocked.Increment(ref received));
        using var sender = loop.Host.CreateEndpoint(0x400, (ep, _, _) => SendAll(ep));
        muted.Muted = true;

        var run = Run(how, sender, () => sink.SendTo(0x400, "go"u8, Bound)); // "go": the host's callback sends them all

        Assert.True(run.Wait(Bound), "the sender did not finish");
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref received) == Messages, Bound),
            $"{Volatile.Read(ref received)}/{Messages} messages arrived; the host's sender waited for a kick RPMsg-Lite never sends\n"
            + $"host: {loop.Host.Dump()}");
    }

    public enum Sender
    {
        Thread,
        Callback,
        Async,
    }

    private static Task Run(Sender how, RpmsgEndpoint sender, Action go) => how switch
    {
        Sender.Thread => Task.Run(() => SendAll(sender)),
        Sender.Callback => Task.Run(go),
        _ => SendAllAsync(sender),
    };

    private static async Task SendAllAsync(RpmsgEndpoint endpoint)
    {
        for (int i = 0; i < Messages; i++)
            await endpoint.SendToAsync(Peer(endpoint), new[] { (byte)i });
    }

    private static uint Peer(RpmsgEndpoint endpoint) => endpoint.Address == 0x401 ? 0x400u : 0x401u;

    // Each send may wait for a buffer; the send timeout is longer than the bound, so an old wait shows as "not finished".
    private static void SendAll(RpmsgEndpoint endpoint)
    {
        for (int i = 0; i < Messages; i++)
            endpoint.SendTo(Peer(endpoint), [(byte)i], TimeSpan.FromSeconds(15));
    }

    /// <summary>Drops this end's kicks of one vring while <see cref="Muted"/> (the peer is not woken); all else as the inner doorbell.</summary>
    private sealed class VringMutedDoorbell(int vring)
    {
        private volatile bool _muted;

        public int Vring { get; } = vring;

        public bool Muted { get => _muted; set => _muted = value; }

        public IDoorbell Wrap(IDoorbell inner) => new Bell(this, inner);

        private sealed class Bell(VringMutedDoorbell owner, IDoorbell inner) : IDoorbell
        {
            public bool Ring() => inner.Ring();

            public bool Ring(int which) => (which == owner.Vring && owner.Muted) || inner.Ring(which);

            public bool Wait(TimeSpan timeout, CancellationToken cancellationToken = default) => inner.Wait(timeout, cancellationToken);

            public bool Drain() => inner.Drain();

            public void Dispose() => inner.Dispose();
        }
    }
}
