using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>The Xilinx IPI driver against the register model (ZynqMP: we are PL0, channel 7; the peer is RPU0).</summary>
public sealed class XilinxIpiTests
{
    private const uint Pl0 = 0x0100_0000, Rpu0 = 0x0000_0100, Pmu0 = 0x0001_0000;

    private static (XilinxIpiModel Model, XilinxIpi Ipi) Started()
    {
        var model = new XilinxIpiModel(Pl0, Rpu0);
        var ipi = new XilinxIpi(model, Rpu0);
        ipi.Start();
        model.TakeLog();
        return (model, ipi);
    }

    [Fact]
    public void Start_ClearsStaleThenUnmasksOnlyThePeer()
    {
        var model = new XilinxIpiModel(Pl0, Rpu0);
        model.PeerTrigger();
        var ipi = new XilinxIpi(model, Rpu0);

        ipi.Start();

        Assert.Equal(["W 01C:FFFFFEFF", "R 010:00000100", "W 010:00000100", "W 018:00000100"], model.TakeLog());
        Assert.Equal(~Rpu0, model.Mask);
        Assert.False(model.InterruptLine);
    }

    [Fact]
    public void TryRing_NotObserved_TriggersThePeer()
    {
        var (model, ipi) = Started();

        Assert.True(ipi.TryRing());

        Assert.Equal(["R 004:00000000", "W 000:00000100"], model.TakeLog());
        Assert.True(model.PeerAcknowledge());
    }

    [Fact]
    public void TryRing_PeerHasNotCleared_RefusedNoTriggerCoalesced()
    {
        var (model, ipi) = Started();
        Assert.True(ipi.TryRing());
        model.TakeLog();

        Assert.False(ipi.TryRing());

        Assert.Equal(["R 004:00000100"], model.TakeLog());
        Assert.Equal(0, model.Coalesced);
        Assert.True(model.PeerAcknowledge());
        Assert.True(ipi.TryRing());
        Assert.Equal(0u, model.ForeignTriggers);
    }

    [Fact]
    public void Acknowledge_PeerTriggered_ClearsItsIsrBitAndTheLineDrops()
    {
        var (model, ipi) = Started();
        model.PeerTrigger();
        Assert.True(model.InterruptLine);

        var receipt = ipi.Acknowledge();

        Assert.Equal(["R 010:00000100", "W 010:00000100"], model.TakeLog());
        Assert.Equal(1, receipt.Messages);
        Assert.False(model.InterruptLine);
    }

    [Fact]
    public void Acknowledge_OnlyAMaskedForeignSource_SpuriousNothingWritten()
    {
        var (model, ipi) = Started();
        model.ForeignTrigger(Pmu0);

        Assert.False(model.InterruptLine);
        Assert.True(ipi.Acknowledge().IsSpurious);
        Assert.Equal(["R 010:00010000"], model.TakeLog());
    }

    [Fact]
    public void Stop_MasksThePeerThroughIdr()
    {
        var (model, ipi) = Started();

        ipi.Stop();

        Assert.Equal(["W 01C:00000100"], model.TakeLog());
        Assert.Equal(0xFFFF_FFFFu, model.Mask);
    }

    [Fact]
    public void Unmapped_RingFalseAndAcknowledgeNotChecked()
    {
        var (model, ipi) = Started();
        model.Unmapped = true;

        Assert.False(ipi.TryRing());
        Assert.False(ipi.Acknowledge().Checked);
    }

    [Fact]
    public void Constructor_NoPeerBit_Rejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new XilinxIpi(new XilinxIpiModel(Pl0, Rpu0), 0));
        Assert.Equal("peerMask", e.ParamName);
    }
}
