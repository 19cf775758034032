using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Tests.Infrastructure;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>
/// Kicks that name their vring at the controller, as Linux's remoteproc drivers send them: the i.MX MU and TI words,
/// STM32 IPCC channels per vring. A kick the controller cannot take yet is sent later, never dropped for another
/// vring's; fixed words and the Xilinx IPI (whose OpenAMP firmware serves every vring on any IPI) stay as they were.
/// </summary>
public sealed class VringKickTests
{
    [Fact]
    public void ImxMu_Vring0RefusedBehindAnUnreadVring1Word_SentOnceThePeerReadsIt()
    {
        var model = new ImxMuModel(ImxMuLayout.V1);
        var mu = new ImxMessagingUnit(model);
        mu.Start();

        Assert.True(mu.TryRing(1));
        Assert.False(mu.TryRing(0)); // TE1 clear: RR1 still holds vring 1's word

        Assert.Equal(1u << 16, model.PeerReceive(1));
        // Our next interrupt (here: nothing from the peer) is where a kept kick goes out.
        Assert.True(mu.Acknowledge().IsSpurious);
        Assert.Equal(0u, model.PeerReceive(1));
        Assert.Null(model.PeerReceive(1));
        Assert.Equal(0, model.LostToPeer);
    }

    [Fact]
    public void ImxMu_KeptKick_AlsoSentAtTheNextRing()
    {
        var model = new ImxMuModel(ImxMuLayout.V1);
        var mu = new ImxMessagingUnit(model, vringValues: [0xA, 0xB]);
        mu.Start();
        Assert.True(mu.TryRing(1));
        Assert.False(mu.TryRing(0));
        Assert.Equal(0xBu, model.PeerReceive(1));

        // The kept vring-0 word goes first; this vring-1 kick then waits for the peer to read it.
        Assert.False(mu.TryRing(1));
        Assert.Equal(0xAu, model.PeerReceive(1));
        mu.Acknowledge();
        Assert.Equal(0xBu, model.PeerReceive(1));
        Assert.Equal(0, model.LostToPeer);
    }

    [Fact]
    public void ImxMu_FixedWord_EveryVringSendsIt()
    {
        var model = new ImxMuModel(ImxMuLayout.V1);
        var mu = new ImxMessagingUnit(model, ringValue: 0x5);
        mu.Start();

        Assert.True(mu.TryRing(0));
        Assert.Equal(0x5u, model.PeerReceive(1));
        Assert.True(mu.TryRing(1));
        Assert.Equal(0x5u, model.PeerReceive(1));
        Assert.Null(mu.VringValues);
    }

    [Fact]
    public void ImxMu_BothFixedAndPerVringWords_Refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new ImxMessagingUnit(new ImxMuModel(ImxMuLayout.V1), ringValue: 1, vringValues: [0, 1]));
        Assert.Equal("vringValues", e.ParamName);
        var three = Assert.Throws<ArgumentException>(() => new ImxMessagingUnit(new ImxMuModel(ImxMuLayout.V1), vringValues: [0, 1, 2]));
        Assert.Contains("3 words", three.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ImxMu_NotAVring_ThrowsNamingIt()
    {
        var mu = new ImxMessagingUnit(new ImxMuModel(ImxMuLayout.V1));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => mu.TryRing(2));
        Assert.Equal(2, e.ActualValue);
    }

    [Fact]
    public void TiMailbox_FullFifo_RefusedKickSentAtTheNextInterrupt()
    {
        var model = new TiMailboxModel();
        var mb = new TiMailbox(model, txFifo: 1, rxFifo: 0, user: 0);
        mb.Start();
        for (int i = 0; i < TiMailbox.FifoDepth; i++)
            Assert.True(mb.TryRing(1));
        Assert.False(mb.TryRing(0));

        model.PeerReceive(1);
        mb.Acknowledge();

        var words = new List<uint>();
        while (model.PeerReceive(1) is { } word)
            words.Add(word);
        Assert.Equal([1u, 1u, 1u, 0u], words);
        Assert.Equal(0, model.Lost);
    }

    [Fact]
    public void Stm32Ipcc_ForVrings_EachKickSetsItsVringsChannel()
    {
        var model = new Stm32IpccModel();
        var ipcc = Stm32Ipcc.ForVrings(model);
        ipcc.Start();

        Assert.True(ipcc.TryRing(1));
        Assert.True(ipcc.TryRing(0)); // its own channel: not held up by vring 1's

        Assert.True(model.Occupied(1, 0));
        Assert.True(model.Occupied(1, 1));
        Assert.Equal([0, 1], ipcc.VringChannels);
    }

    [Fact]
    public void Stm32Ipcc_ForVrings_TheM4SignalOnEitherChannelIsTaken()
    {
        var model = new Stm32IpccModel();
        var ipcc = Stm32Ipcc.ForVrings(model);
        ipcc.Start();
        // The M4's port sets channel 0 for vring 0 (a new message) and channel 1 for vring 1 (buffers consumed), and
        // waits for each to be cleared before it sets it again.
        model.PeerSet(2, 0);
        model.PeerSet(2, 1);
        Assert.True(model.RxOccupiedLine(1));

        var receipt = ipcc.Acknowledge();

        Assert.Equal(2, receipt.Messages);
        Assert.False(model.Occupied(2, 0));
        Assert.False(model.Occupied(2, 1));
        Assert.False(model.RxOccupiedLine(1));
    }

    [Fact]
    public void Stm32Ipcc_ForVrings_RefusedWhileOccupied_SentAtTheNextInterrupt()
    {
        var model = new Stm32IpccModel();
        var ipcc = Stm32Ipcc.ForVrings(model);
        ipcc.Start();
        Assert.True(ipcc.TryRing(0));
        Assert.False(ipcc.TryRing(0)); // the M4 has not cleared channel 0 yet

        model.PeerClear(2, 0);
        Assert.False(model.Occupied(1, 0));
        ipcc.Acknowledge();

        Assert.True(model.Occupied(1, 0));
    }

    [Fact]
    public void Stm32Ipcc_ForVrings_SameChannelTwice_Refused()
    {
        var e = Assert.Throws<ArgumentException>(() => Stm32Ipcc.ForVrings(new Stm32IpccModel(), vring0Channel: 2, vring1Channel: 2));
        Assert.Contains("channel 2", e.Message, StringComparison.Ordinal);
    }

    // OpenAMP's ZynqMP R5 port clears the IPI and then serves every vring (remoteproc_get_notification with
    // RSC_NOTIFY_ID_ANY); it reads no message buffer. So one trigger per kick is the whole signal, whichever vring.
    [Fact]
    public void XilinxIpi_KickOfEitherVring_IsTheOneTrigger()
    {
        var model = new XilinxIpiModel(0x0100_0000, 0x100);
        IMailbox ipi = new XilinxIpi(model, 0x100);
        ipi.Start();
        model.TakeLog();

        Assert.True(ipi.TryRing(0));
        Assert.True(model.PeerAcknowledge());
        Assert.True(ipi.TryRing(1));

        Assert.Equal(["R 004:00000000", "W 000:00000100", "R 004:00000000", "W 000:00000100"], model.TakeLog());
    }

    [Fact]
    public void UioDoorbell_RingOfAVring_AllocatesNothing_DeliveredOrKept()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096, name: "vrpmsg-test-mu");
        var registers = new MmioRegisterBlock(region, 0, ImxMessagingUnit.RequiredSize(ImxMuLayout.V1));
        using var device = new FakeUioDevice();
        using var doorbell = device.Open(new ImxMessagingUnit(registers));
        var bell = (IDoorbell)doorbell;
        void Kicks()
        {
            bell.Ring(0);
            bell.Ring(1);
        }

        // Plain memory: SR reads what we put there. TE clear: every kick is kept; TE set: every word goes out.
        var kept = ThreadAllocation.Measure(1000, 10_000, Kicks);
        Assert.True(registers.TryWrite32(0x20, 0x00F0_0000));
        var delivered = ThreadAllocation.Measure(1000, 10_000, Kicks);

        kept.AssertNone();
        delivered.AssertNone();
        Assert.True(registers.TryRead32(0x04, out uint last));
        Assert.Equal(1u << 16, last);
    }
}
