using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>
/// Review (mbstop2): once Stop has returned, no path of a mailbox touches its registers (a ring in any mode, a kept
/// kick, an acknowledge): the next owner of the controller (a doorbell opened again over registers that stay mapped)
/// must not get a stray word or trigger, nor lose an interrupt status our late acknowledge read and cleared. A ring
/// or acknowledge already under way when Stop is called finishes before Stop returns; Start, likewise, does not
/// return before its receive enable is set while a ring owns the control register.
/// </summary>
public sealed class MailboxStoppedReviewTests
{
    private const uint Pl0 = 0x0100_0000, Rpu0 = 0x0000_0100;

    public static TheoryData<string> Kinds => new()
    {
        "imx-data-fixed", "imx-data-vrings", "imx-gp", "imx-v2-data-fixed", "ti-fixed", "ti-vrings", "stm32-channel", "stm32-vrings", "xilinx",
    };

    public static TheoryData<string> FixedKinds => new() { "imx-data-fixed", "imx-gp", "ti-fixed", "stm32-channel", "xilinx" };

    private static (RegisterModel Model, IMailbox Mailbox, Action PeerSends) Make(string kind)
    {
        switch (kind)
        {
            case "imx-data-fixed":
            case "imx-data-vrings":
            case "imx-v2-data-fixed":
            {
                var model = new ImxMuModel(kind.Contains("v2", StringComparison.Ordinal) ? ImxMuLayout.V2 : ImxMuLayout.V1);
                var layout = kind.Contains("v2", StringComparison.Ordinal) ? ImxMuLayout.V2 : ImxMuLayout.V1;
                uint? fixedWord = kind.EndsWith("fixed", StringComparison.Ordinal) ? 7u : null;
                return (model, new ImxMessagingUnit(model, ringValue: fixedWord, layout: layout), () => model.PeerSend(1, 0x0001_0000));
            }
            case "imx-gp":
            {
                var model = new ImxMuModel(ImxMuLayout.V1);
                return (model, new ImxMessagingUnit(model, signal: ImxMuSignal.GeneralPurpose), () => model.PeerRequest(1));
            }
            case "ti-fixed":
            case "ti-vrings":
            {
                var model = new TiMailboxModel();
                uint? fixedWord = kind == "ti-fixed" ? 7u : null;
                return (model, new TiMailbox(model, txFifo: 1, rxFifo: 0, user: 0, ringValue: fixedWord), () => model.PeerSend(0, 0x1));
            }
            case "stm32-channel":
            {
                var model = new Stm32IpccModel();
                return (model, new Stm32Ipcc(model, processor: 1, txChannel: 0, rxChannel: 1), () => model.PeerSet(2, 1));
            }
            case "stm32-vrings":
            {
                var model = new Stm32IpccModel();
                return (model, Stm32Ipcc.ForVrings(model), () => model.PeerSet(2, 0));
            }
            case "xilinx":
            {
                var model = new XilinxIpiModel(Pl0, Rpu0);
                return (model, new XilinxIpi(model, Rpu0), model.PeerTrigger);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "no such mailbox kind in this test");
        }
    }

    private static Thread Started(Action action)
    {
        var thread = new Thread(() => action()) { IsBackground = true };
        thread.Start();
        return thread;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void RingAfterStop_TouchesNoRegister_AndReportsNotDelivered(string kind)
    {
        var (model, mailbox, _) = Make(kind);
        mailbox.Start();
        mailbox.Stop();
        model.TakeLog();

        bool any = mailbox.TryRing();
        bool vring0 = mailbox.TryRing(0);
        bool vring1 = mailbox.TryRing(1);
        mailbox.FlushKicks();

        Assert.Equal([], model.TakeLog());
        Assert.False(any || vring0 || vring1, $"{kind}: a ring after Stop reported delivered");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void AcknowledgeAfterStop_ReadsAndClearsNothing_AndReportsNotChecked(string kind)
    {
        var (model, mailbox, peerSends) = Make(kind);
        mailbox.Start();
        mailbox.Stop();
        // The next owner's interrupt: a stopped mailbox must leave it (and its status) for that owner.
        peerSends();
        model.TakeLog();

        var receipt = mailbox.Acknowledge();

        Assert.Equal([], model.TakeLog());
        Assert.Equal(MailboxReceipt.NotChecked, receipt);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void StartAfterStop_RingsAndAcknowledgesAgain(string kind)
    {
        var (model, mailbox, peerSends) = Make(kind);
        // Recovery repeats: every Stop is followed by a Start that opens the mailbox again.
        for (int round = 0; round < 3; round++)
        {
            mailbox.Start();
            mailbox.Stop();
        }
        mailbox.Start();
        peerSends();

        Assert.True(mailbox.Acknowledge().Messages > 0, $"{kind}: the restarted mailbox took nothing");
        Assert.True(mailbox.TryRing(1), $"{kind}: the restarted mailbox did not ring");
        Assert.NotEmpty(model.TakeLog());
    }

    [Fact]
    public void UioMailbox_RingAfterStop_WritesNothing()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096, name: "vrpmsg-test-uio-mailbox-stop");
        var mailbox = new UioMailbox(region, registerOffset: 0x10, ringValue: 0xA5);
        mailbox.Start();
        mailbox.Stop();

        bool rang = mailbox.TryRing();

        using var lease = region.Acquire();
        Assert.Equal(0u, lease.ReadUInt32(0x10));
        Assert.False(rang);
    }

    [Theory]
    [MemberData(nameof(FixedKinds))]
    public void RingUnderWayWhenStopIsCalled_FinishesBeforeStopReturns(string kind)
    {
        var (model, mailbox, _) = Make(kind);
        mailbox.Start();
        model.TakeLog();
        using var ringerInside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        bool parked = false;
        int stopReturned = 0;
        string? lateAccess = null;
        model.OnAccess = entry =>
        {
            if (Volatile.Read(ref stopReturned) != 0)
                lateAccess ??= entry;
            if (parked)
                return;
            // The ringer is preempted at its first register access (the status it checks before writing).
            parked = true;
            ringerInside.Set();
            release.Wait(TimeSpan.FromSeconds(10));
        };
        var ringer = new Thread(() => mailbox.TryRing());
        ringer.Start();
        Assert.True(ringerInside.Wait(TimeSpan.FromSeconds(10)));

        // A thread of its own, not the pool's (a starved pool would start Stop only after the release below).
        var stop = Started(() =>
        {
            mailbox.Stop();
            Volatile.Write(ref stopReturned, 1);
        });
        // Bounded: a Stop that does not wait for the ring returns at once; one that waits is still waiting here.
        stop.Join(TimeSpan.FromMilliseconds(500));
        release.Set();
        Assert.True(ringer.Join(TimeSpan.FromSeconds(10)));
        Assert.True(stop.Join(TimeSpan.FromSeconds(10)));

        Assert.True(lateAccess is null, $"{kind}: the ring under way touched the registers after Stop returned ({lateAccess})");
    }

    [Fact]
    public void AcknowledgeUnderWayWhenStopIsCalled_FinishesBeforeStopReturns()
    {
        var (model, mailbox, peerSends) = Make("ti-fixed");
        mailbox.Start();
        peerSends();
        model.TakeLog();
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        bool parked = false;
        int stopReturned = 0;
        string? lateAccess = null;
        model.OnAccess = entry =>
        {
            if (Volatile.Read(ref stopReturned) != 0)
                lateAccess ??= entry;
            if (parked)
                return;
            parked = true;
            inside.Set();
            release.Wait(TimeSpan.FromSeconds(10));
        };
        MailboxReceipt receipt = default;
        var waiter = new Thread(() => receipt = mailbox.Acknowledge());
        waiter.Start();
        Assert.True(inside.Wait(TimeSpan.FromSeconds(10)));

        // A thread of its own, not the pool's (a starved pool would start Stop only after the release below).
        var stop = Started(() =>
        {
            mailbox.Stop();
            Volatile.Write(ref stopReturned, 1);
        });
        stop.Join(TimeSpan.FromMilliseconds(500));
        release.Set();
        Assert.True(waiter.Join(TimeSpan.FromSeconds(10)));
        Assert.True(stop.Join(TimeSpan.FromSeconds(10)));

        Assert.True(lateAccess is null, $"the acknowledge under way touched the registers after Stop returned ({lateAccess})");
        Assert.Equal(1, receipt.Messages);
    }
    [Fact]
    public void ImxGeneralPurpose_StartWhileARingOwnsTheControlRegister_ReturnsWithItsEnablesMade()
    {
        var model = new ImxMuModel(ImxMuLayout.V1);
        var mu = new ImxMessagingUnit(model, signal: ImxMuSignal.GeneralPurpose);
        model.TryWrite32(0x24, 1u << 23); // TIE0, left by an earlier user
        model.TakeLog();
        using var ownerInside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        bool parked = false;
        // A ringer owns the control register and is preempted between its read and its write.
        model.OnAccess = entry =>
        {
            if (parked || !entry.StartsWith("R 024:", StringComparison.Ordinal))
                return;
            parked = true;
            ownerInside.Set();
            release.Wait(TimeSpan.FromSeconds(10));
        };
        var ringer = new Thread(() => mu.TryRing());
        ringer.Start();
        Assert.True(ownerInside.Wait(TimeSpan.FromSeconds(10)));

        var start = Started(mu.Start);
        // Bounded: a Start that leaves its enables to the parked owner returns at once; one that waits is still waiting.
        bool returnedWhileOwnerParked = start.Join(TimeSpan.FromMilliseconds(500));
        bool enabledWhenStartReturned = !returnedWhileOwnerParked || model.GeneralPurposeInterruptEnabled(1);
        release.Set();
        Assert.True(ringer.Join(TimeSpan.FromSeconds(10)));
        Assert.True(start.Join(TimeSpan.FromSeconds(10)));

        Assert.True(enabledWhenStartReturned, "Start returned with GIE1 still clear: its enable was left to the ring owning the control register");
        Assert.True(model.GeneralPurposeInterruptEnabled(1));
        Assert.False(model.InterruptLine, "the stale TIE0 is still set (the line is held up)");
        Assert.True(model.PeerTakeRequest(1), "the ring under way never reached the peer");
    }
    [Fact]
    public void ManyRingersWhileOneStops_NothingTouchesTheRegistersAfterStopReturns()
    {
        // Bounded stress over the real interleavings (the model is not thread-safe by itself: accesses are serialised).
        for (int round = 0; round < 40; round++)
        {
            var registers = new Watched(new XilinxIpiModel(Pl0, Rpu0));
            var ipi = new XilinxIpi(registers, Rpu0);
            ipi.Start();
            using var go = new Barrier(3);
            var ringers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
            {
                go.SignalAndWait();
                for (int i = 0; i < 200; i++)
                {
                    ipi.TryRing();
                    ipi.Acknowledge();
                    registers.PeerTakes();
                }
            })).ToArray();
            go.SignalAndWait();
            ipi.Stop();
            registers.StopReturned = true;
            Assert.True(Task.WaitAll(ringers, TimeSpan.FromSeconds(10)));
            Assert.True(registers.Late is null, $"round {round}: {registers.Late} after Stop returned");
        }
    }

    private sealed class Watched(XilinxIpiModel inner) : IMmioRegisters
    {
        private readonly Lock _lock = new();

        public string Name => inner.Name;

        public long Size => inner.Size;

        public volatile bool StopReturned;

        public string? Late { get; private set; }

        public bool TryRead32(long offset, out uint value)
        {
            lock (_lock)
            {
                if (StopReturned)
                    Late ??= $"a read of 0x{offset:X}";
                return inner.TryRead32(offset, out value);
            }
        }

        public bool TryWrite32(long offset, uint value)
        {
            lock (_lock)
            {
                if (StopReturned)
                    Late ??= $"a write of 0x{value:X} to 0x{offset:X}";
                return inner.TryWrite32(offset, value);
            }
        }

        public void PeerTakes()
        {
            lock (_lock)
                inner.PeerAcknowledge();
        }
    }
}
