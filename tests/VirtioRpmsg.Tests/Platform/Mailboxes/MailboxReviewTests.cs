using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Tests.Infrastructure;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>
/// Review of the mailbox drivers: a receive source we do not own must not be able to hold our line up
/// after Start (else every interrupt is spurious and the line fires for ever), and the ring path
/// allocates nothing over real mapped registers.
/// </summary>
public sealed class MailboxReviewTests
{
    private const uint Pl0 = 0x0100_0000, Rpu0 = 0x0000_0100, Pmu0 = 0x0001_0000;

    [Fact]
    public void XilinxIpi_Start_SourceLeftUnmaskedByAnEarlierUser_IsMaskedSoItCannotHoldTheLine()
    {
        var model = new XilinxIpiModel(Pl0, Rpu0);
        // An earlier user of this channel (a crashed run with another peer, a kernel driver) left every source unmasked.
        Assert.True(model.TryWrite32(XilinxIpi.Ier, 0xFFFF_FFFF));
        var ipi = new XilinxIpi(model, Rpu0);

        ipi.Start();
        model.ForeignTrigger(Pmu0);

        // Only the peer's source may raise our line: the PMU's bit is not ours to clear, so an unmasked
        // one would leave the line up after every Acknowledge (an interrupt storm of spurious interrupts).
        Assert.Equal(~Rpu0, model.Mask);
        Assert.False(model.InterruptLine);
        Assert.True(ipi.Acknowledge().IsSpurious);
        model.PeerTrigger();
        Assert.True(model.InterruptLine);
    }

    [Fact]
    public void Stm32Ipcc_Start_ChannelLeftUnmaskedByAnEarlierUser_IsMaskedSoItCannotHoldTheLine()
    {
        var model = new Stm32IpccModel();
        // An earlier user of the IPCC (the kernel's stm32-ipcc, a crashed run with another rxChannel) left channel 3 unmasked.
        Assert.True(model.TryWrite32(0x04, 0x003F_0037));
        var ipcc = new Stm32Ipcc(model, processor: 1, txChannel: 1, rxChannel: 0);

        ipcc.Start();
        model.PeerSet(2, 3);

        // Channel 3 is not ours to clear: unmasked, it would hold the RX-occupied line up after every acknowledge.
        Assert.False(model.RxOccupiedLine(1));
        Assert.True(ipcc.Acknowledge().IsSpurious);
        model.PeerSet(2, 0);
        Assert.True(model.RxOccupiedLine(1));
    }

    [Theory]
    [InlineData(ImxMuLayout.V1, ImxMuSignal.Data)]
    [InlineData(ImxMuLayout.V1, ImxMuSignal.GeneralPurpose)]
    [InlineData(ImxMuLayout.V2, ImxMuSignal.Data)]
    [InlineData(ImxMuLayout.V2, ImxMuSignal.GeneralPurpose)]
    public void ImxMu_Start_EnablesLeftByAnEarlierUser_AreClearedSoNothingButOurChannelRaisesTheLine(ImxMuLayout layout, ImxMuSignal signal)
    {
        var model = new ImxMuModel(layout);
        // An earlier user of side A left RIE0, GIE0 and TIE0 set (TIE0 with TR0 empty: the line is up at once).
        if (layout == ImxMuLayout.V1)
        {
            Assert.True(model.TryWrite32(0x24, 0x8880_0000));
        }
        else
        {
            Assert.True(model.TryWrite32(0x110, 1));
            Assert.True(model.TryWrite32(0x120, 1));
            Assert.True(model.TryWrite32(0x128, 1));
        }
        var mu = new ImxMessagingUnit(model, signal: signal, layout: layout);

        mu.Start();
        model.PeerSend(0, 7);
        model.PeerRequest(0);

        // Channel 0 is not ours: nothing of it is read or cleared, so an enabled source of it would hold the line up.
        Assert.False(model.InterruptLine);
        Assert.True(mu.Acknowledge().IsSpurious);
        if (signal == ImxMuSignal.Data)
            model.PeerSend(1, 1u << 16);
        else
            model.PeerRequest(1);
        Assert.True(model.InterruptLine);
    }

    [Fact]
    public void TiMailbox_Start_EventsLeftEnabledByAnEarlierUser_AreDisabledSoTheyCannotHoldTheLine()
    {
        var model = new TiMailboxModel();
        // An earlier user of interrupt user 0 left FIFO 2's new-message (bit 4) and our tx FIFO 1's not-full (bit 3) enabled.
        Assert.True(model.TryWrite32(0x108, 0x18));
        var mailbox = new TiMailbox(model, txFifo: 1, rxFifo: 0, user: 0);

        mailbox.Start();
        model.PeerSend(2, 7);

        // FIFO 2 carries words for another core and is never drained here: enabled, it would hold our line up.
        Assert.Equal(TiMailbox.NewMessageBit(0), model.Enabled(0));
        Assert.False(model.InterruptLine(0));
        Assert.True(mailbox.Acknowledge().IsSpurious);
        Assert.Equal(1, model.Queued(2));
        model.PeerSend(0, 1);
        Assert.True(model.InterruptLine(0));
    }

    [Fact]
    public void RingPath_OverMappedRegisters_AllocatesNothing()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096, name: "vrpmsg-test-ring-alloc");
        // TI: FIFOSTATUS reads 0 (not full); i.MX V1: SR.TE1 set; STM32 and IPI: nothing occupied/observed.
        Assert.True(new MmioRegisterBlock(region, 0, 0x40).TryWrite32(0x20, 0x0040_0000));
        IMailbox[] mailboxes =
        [
            new ImxMessagingUnit(new MmioRegisterBlock(region, 0, ImxMessagingUnit.RequiredSize(ImxMuLayout.V1)), ringValue: 1u << 16),
            new TiMailbox(new MmioRegisterBlock(region, 0x400, TiMailbox.RequiredSize(0)), txFifo: 1, rxFifo: 0, user: 0, ringValue: 1),
            new Stm32Ipcc(new MmioRegisterBlock(region, 0x800, Stm32Ipcc.RequiredSize), 1, 1, 0),
            new XilinxIpi(new MmioRegisterBlock(region, 0xC00, XilinxIpi.RequiredSize), Rpu0),
            new UioMailbox(region, 0xF00, 1, statusOffset: 0xF04, statusFullMask: 1),
        ];
        foreach (var mailbox in mailboxes)
        {
            var allocation = ThreadAllocation.Measure(warmup: 200, measuredPerRound: 1000, () =>
            {
                // Each ring leaves the "pending" state in plain memory only for IPCC/IPI/TI; refusals are fine too.
                mailbox.TryRing();
                mailbox.Acknowledge();
            });
            Assert.True(allocation.Fewest == 0, $"{mailbox.Name}: {allocation}");
        }
    }
}
