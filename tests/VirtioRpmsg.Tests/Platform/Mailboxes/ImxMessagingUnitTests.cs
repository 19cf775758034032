using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>The i.MX MU driver against the register model: exact register sequences, both layouts, both signals.</summary>
public sealed class ImxMessagingUnitTests
{
    private const uint Vring1 = 1u << 16; // imx_rproc / RPMsg-Lite: vring id << 16

    private static (ImxMuModel Model, ImxMessagingUnit Mu) Started(ImxMuLayout layout = ImxMuLayout.V1, ImxMuSignal signal = ImxMuSignal.Data)
    {
        var model = new ImxMuModel(layout);
        var mu = new ImxMessagingUnit(model, signal: signal, ringValue: signal == ImxMuSignal.Data ? Vring1 : 0, layout: layout);
        mu.Start();
        model.TakeLog();
        return (model, mu);
    }

    [Fact]
    public void Start_V1Data_ReadsStaleThenSetsRie1()
    {
        var model = new ImxMuModel(ImxMuLayout.V1);
        var mu = new ImxMessagingUnit(model, ringValue: Vring1);

        mu.Start();

        // SR: TE0-3 set (bits 23-20), nothing received; CR read-modify-write sets RIE1 (bit 26).
        Assert.Equal(["R 020:00F00000", "R 024:00000000", "W 024:04000000"], model.TakeLog());
        Assert.True(model.ReceiveInterruptEnabled(1));
    }

    [Fact]
    public void Start_StaleWordInRr1_IsTakenSoTheLineStartsLow()
    {
        var model = new ImxMuModel(ImxMuLayout.V1);
        model.PeerSend(1, 0xDEAD);
        var mu = new ImxMessagingUnit(model);

        mu.Start();

        Assert.Equal(["R 020:04F00000", "R 014:0000DEAD", "R 024:00000000", "W 024:04000000"], model.TakeLog());
        Assert.False(model.InterruptLine);
    }

    [Fact]
    public void TryRing_TransmitEmpty_WritesTr1AndPeerReadsVringId()
    {
        var (model, mu) = Started();

        Assert.True(mu.TryRing());

        Assert.Equal(["R 020:00F00000", "W 004:00010000"], model.TakeLog());
        Assert.Equal(Vring1, model.PeerReceive(1));
    }

    [Fact]
    public void TryRing_PeerHasNotReadRr_RefusedWithoutOverwriting()
    {
        var (model, mu) = Started();
        Assert.True(mu.TryRing());
        model.TakeLog();

        Assert.False(mu.TryRing());

        // TE1 (bit 22) clear: only the status is read, TR1 is not touched.
        Assert.Equal(["R 020:00B00000"], model.TakeLog());
        Assert.Equal(0, model.LostToPeer);
        Assert.Equal(Vring1, model.PeerReceive(1));
        Assert.True(mu.TryRing());
    }

    [Fact]
    public void Acknowledge_PeerWord_ReadsRr1AndTheLineDrops()
    {
        var (model, mu) = Started();
        model.PeerSend(1, 0x0001_0000);
        Assert.True(model.InterruptLine);

        var receipt = mu.Acknowledge();

        Assert.Equal(["R 020:04F00000", "R 014:00010000"], model.TakeLog());
        Assert.Equal(new MailboxReceipt(1, 0x0001_0000), receipt);
        Assert.False(model.InterruptLine);
    }

    [Fact]
    public void Acknowledge_NothingPending_SpuriousAfterOneStatusRead()
    {
        var (model, mu) = Started();

        var receipt = mu.Acknowledge();

        Assert.True(receipt.IsSpurious);
        Assert.Equal(["R 020:00F00000"], model.TakeLog());
    }

    [Fact]
    public void Acknowledge_WordOnOtherChannel_NotOursAndLeftAlone()
    {
        var (model, mu) = Started();
        model.PeerSend(0, 7);

        Assert.True(mu.Acknowledge().IsSpurious);

        // RF0 (bit 27) is not RF1; RR0 is not read and RIE0 is off, so the line stays low.
        Assert.Equal(["R 020:08F00000"], model.TakeLog());
        Assert.False(model.InterruptLine);
    }

    [Fact]
    public void GeneralPurpose_RingRequestsGir1_RefusedUntilPeerClears()
    {
        var (model, mu) = Started(signal: ImxMuSignal.GeneralPurpose);

        Assert.True(mu.TryRing());
        Assert.False(mu.TryRing());

        // CR holds GIE1 (bit 30); the ring sets GIR1 (bit 18); the second ring sees it still pending.
        Assert.Equal(["R 024:40000000", "W 024:40040000", "R 024:40040000"], model.TakeLog());
        Assert.True(model.PeerTakeRequest(1));
        Assert.True(mu.TryRing());
    }

    [Fact]
    public void GeneralPurpose_Acknowledge_ClearsGip1WithWriteOne()
    {
        var (model, mu) = Started(signal: ImxMuSignal.GeneralPurpose);
        model.PeerRequest(1);
        Assert.True(model.InterruptLine);

        var receipt = mu.Acknowledge();

        Assert.Equal(["R 020:40F00000", "W 020:40000000"], model.TakeLog());
        Assert.Equal(1, receipt.Messages);
        Assert.False(model.InterruptLine);
    }

    [Fact]
    public void V2_DataRoundTrip_UsesSeparateStatusAndControlRegisters()
    {
        var model = new ImxMuModel(ImxMuLayout.V2);
        var mu = new ImxMessagingUnit(model, ringValue: Vring1, layout: ImxMuLayout.V2);

        mu.Start();
        Assert.True(mu.TryRing());
        model.PeerSend(1, 0x0001_0000);
        var receipt = mu.Acknowledge();
        mu.Stop();

        Assert.Equal(
        [
            "R 12C:00000000",                    // RSR
            "R 120:00000000", "W 120:00000000",  // TCR: no TIEn
            "R 110:00000000", "W 110:00000000",  // GIER: no GIEn
            "R 128:00000000", "W 128:00000002",  // RCR = RIE1 only
            "R 124:0000000F", "W 204:00010000",  // TSR TE1, TR1
            "R 12C:00000002", "R 284:00010000",  // RSR RF1, RR1
            "R 128:00000002", "W 128:00000000",  // RCR &= ~RIE1
        ], model.TakeLog());
        Assert.Equal(1, receipt.Messages);
        Assert.False(model.ReceiveInterruptEnabled(1));
    }

    [Fact]
    public void Stop_V1_ClearsRie1AndKeepsOtherEnables()
    {
        var (model, mu) = Started();

        mu.Stop();

        Assert.Equal(["R 024:04000000", "W 024:00000000"], model.TakeLog());
        Assert.False(model.ReceiveInterruptEnabled(1));
    }

    [Fact]
    public void Unmapped_RingFalseAndAcknowledgeNotChecked()
    {
        var (model, mu) = Started();
        model.Unmapped = true;

        Assert.False(mu.TryRing());
        Assert.False(mu.Acknowledge().Checked);
        Assert.Empty(model.TakeLog());
    }

    [Theory]
    [InlineData(4, 1, "txChannel")]
    [InlineData(1, -1, "rxChannel")]
    public void Constructor_ChannelOutOfRange_NamesParameterAndValue(int tx, int rx, string parameter)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ImxMessagingUnit(new ImxMuModel(ImxMuLayout.V1), tx, rx));

        Assert.Equal(parameter, e.ParamName);
        Assert.Contains("0-3", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_GeneralPurposeWithRingValue_Rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new ImxMessagingUnit(new ImxMuModel(ImxMuLayout.V1), signal: ImxMuSignal.GeneralPurpose, ringValue: 5));
        Assert.Equal("ringValue", e.ParamName);
    }

    [Fact]
    public void Constructor_V2InV1SizedBlock_Rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new ImxMessagingUnit(new ImxMuModel(ImxMuLayout.V1), layout: ImxMuLayout.V2));
        Assert.Contains("0x2A0", e.Message, StringComparison.Ordinal);
    }
}
