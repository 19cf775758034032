using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>
/// i.MX MU V1 general-purpose mode: a ring (GIRn) and Start/Stop (the enables) read-modify-write the one control
/// register. The register model's access hook runs the other call at the exact point between a read and its write,
/// on the same thread: the interleaving two threads would produce, made deterministic.
/// </summary>
public sealed class ImxControlRaceTests
{
    private const long ControlV1 = 0x24;
    private const uint Tie0 = 1u << 23; // a transmit enable an earlier user left

    private static (ImxMuModel Model, ImxMessagingUnit Mu) GeneralPurpose(bool start)
    {
        var model = new ImxMuModel(ImxMuLayout.V1);
        var mu = new ImxMessagingUnit(model, signal: ImxMuSignal.GeneralPurpose);
        if (start)
            mu.Start();
        model.TakeLog();
        return (model, mu);
    }

    /// <summary>Runs <paramref name="other"/> once, right after the first read of the control register.</summary>
    private static void BetweenReadAndWrite(ImxMuModel model, Action other)
    {
        bool fired = false;
        model.OnAccess = entry =>
        {
            if (fired || !entry.StartsWith($"R {ControlV1:X3}:", StringComparison.Ordinal))
                return;
            fired = true;
            other();
        };
    }

    [Fact]
    public void StopBetweenARingsReadAndWrite_TheEnableStaysCleared_AndTheRingIsDelivered()
    {
        var (model, mu) = GeneralPurpose(start: true);
        Assert.True(model.GeneralPurposeInterruptEnabled(1));
        // Stop waits for the ring owning the register, so it runs on its own thread: it has set its request (and
        // started waiting) before the ring writes back what it read, at the latest once the ring lets go.
        Task? stop = null;
        using var stopping = new ManualResetEventSlim();
        BetweenReadAndWrite(model, () =>
        {
            stop = Task.Run(() =>
            {
                stopping.Set();
                mu.Stop();
            });
            Assert.True(stopping.Wait(TimeSpan.FromSeconds(10)));
        });

        mu.TryRing();
        Assert.NotNull(stop);
        Assert.True(stop.Wait(TimeSpan.FromSeconds(10)));

        Assert.False(model.GeneralPurposeInterruptEnabled(1), "Stop's cleared GIE1 was written back by the ring that read the register before it.");
        Assert.True(model.PeerTakeRequest(1), "the ring's GIR1 never reached the peer");
    }

    [Fact]
    public void StartBetweenARingsReadAndWrite_TheReceiveEnableIsKept_AndTheStaleEnableCleared()
    {
        var (model, mu) = GeneralPurpose(start: false);
        model.TryWrite32(ControlV1, Tie0);
        model.TakeLog();
        // Start waits for a ring under way (as Stop), so it runs on its own thread: it has begun (and is waiting)
        // before the ring writes back what it read, at the latest once the ring lets go.
        Task? start = null;
        using var starting = new ManualResetEventSlim();
        BetweenReadAndWrite(model, () =>
        {
            start = Task.Run(() =>
            {
                starting.Set();
                mu.Start();
            });
            Assert.True(starting.Wait(TimeSpan.FromSeconds(10)));
        });

        mu.TryRing();
        Assert.NotNull(start);
        Assert.True(start.Wait(TimeSpan.FromSeconds(10)));

        Assert.True(model.GeneralPurposeInterruptEnabled(1), "Start's GIE1 was lost: the ring wrote back the register it read before Start.");
        Assert.False(model.InterruptLine, "the stale TIE0 Start cleared was set again (the line is held up)");
        Assert.True(model.PeerTakeRequest(1));
    }

    [Fact]
    public void RingBetweenStopsReadAndWrite_IsRefused_WritesNothing_AndTheEnableIsCleared()
    {
        var (model, mu) = GeneralPurpose(start: true);
        bool? rang = null;
        BetweenReadAndWrite(model, () => rang = mu.TryRing());

        mu.Stop();

        // Stop has the registers to itself from its start: a ring made meanwhile is refused, as one made after it.
        Assert.False(rang, "a ring made while Stop cleared the enable was not refused");
        Assert.False(model.GeneralPurposeInterruptEnabled(1));
        Assert.False(model.PeerTakeRequest(1), "a ring made during Stop reached the peer");
    }

    [Fact]
    public void RingAgainstARequestStillPending_IsRefused_AndLeavesTheControlRegisterAlone()
    {
        var (model, mu) = GeneralPurpose(start: true);
        Assert.True(mu.TryRing());
        model.TakeLog();

        Assert.False(mu.TryRing());

        Assert.Equal([$"R 024:{(1u << 30) | (1u << 18):X8}"], model.TakeLog());
    }

    [Fact]
    public void ManyThreadsRingingWhileOneStops_EndWithTheEnableCleared()
    {
        // Bounded stress over the real interleavings (the model is not thread-safe by itself: serialise accesses).
        for (int round = 0; round < 40; round++)
        {
            var model = new LockedModel(new ImxMuModel(ImxMuLayout.V1));
            var mu = new ImxMessagingUnit(model, signal: ImxMuSignal.GeneralPurpose);
            mu.Start();
            using var go = new Barrier(3);
            var ringers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
            {
                go.SignalAndWait();
                for (int i = 0; i < 50; i++)
                {
                    mu.TryRing();
                    model.PeerTake(1);
                }
            })).ToArray();
            go.SignalAndWait();
            mu.Stop();
            Task.WaitAll(ringers);
            Assert.False(model.Enabled(1), $"round {round}: GIE1 set again after Stop");
        }
    }

    private sealed class LockedModel(ImxMuModel inner) : IMmioRegisters
    {
        private readonly Lock _lock = new();

        public string Name => inner.Name;

        public long Size => inner.Size;

        public bool TryRead32(long offset, out uint value)
        {
            lock (_lock)
                return inner.TryRead32(offset, out value);
        }

        public bool TryWrite32(long offset, uint value)
        {
            lock (_lock)
                return inner.TryWrite32(offset, value);
        }

        public void PeerTake(int channel)
        {
            lock (_lock)
                inner.PeerTakeRequest(channel);
        }

        public bool Enabled(int channel)
        {
            lock (_lock)
                return inner.GeneralPurposeInterruptEnabled(channel);
        }
    }
}
