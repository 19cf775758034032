using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>The STM32MP1 IPCC driver against the register model (Linux = processor 1).</summary>
public sealed class Stm32IpccTests
{
    private static (Stm32IpccModel Model, Stm32Ipcc Ipcc) Started(int tx = 0, int rx = 0, int processor = 1)
    {
        var model = new Stm32IpccModel();
        var ipcc = new Stm32Ipcc(model, processor, tx, rx);
        ipcc.Start();
        model.TakeLog();
        return (model, ipcc);
    }

    [Fact]
    public void Start_Processor1_ReadsPeerStatusUnmasksRxChannelEnablesRxOccupied()
    {
        var model = new Stm32IpccModel();
        var ipcc = new Stm32Ipcc(model, processor: 1, txChannel: 0, rxChannel: 0);

        ipcc.Start();

        Assert.Equal(["R 01C:00000000", "R 004:003F003F", "W 004:003F003E", "R 000:00000000", "W 000:00000001"], model.TakeLog());
    }

    [Fact]
    public void TryRing_ChannelFree_SetsItThroughC1Scr()
    {
        var (model, ipcc) = Started(tx: 1);

        Assert.True(ipcc.TryRing());

        Assert.Equal(["R 00C:00000000", "W 008:00020000"], model.TakeLog());
        Assert.True(model.Occupied(1, 1));
    }

    [Fact]
    public void TryRing_ChannelStillOccupied_RefusedNothingCoalesced()
    {
        var (model, ipcc) = Started();
        Assert.True(ipcc.TryRing());
        model.TakeLog();

        Assert.False(ipcc.TryRing());

        Assert.Equal(["R 00C:00000001"], model.TakeLog());
        Assert.Equal(0, model.Coalesced);
        model.PeerClear(2, 0);
        Assert.True(ipcc.TryRing());
    }

    [Fact]
    public void Acknowledge_PeerSetRxChannel_ClearsItLineDropsPeerSeesFree()
    {
        var (model, ipcc) = Started();
        model.PeerSet(2, 0);
        Assert.True(model.RxOccupiedLine(1));

        var receipt = ipcc.Acknowledge();

        Assert.Equal(["R 01C:00000001", "W 008:00000001"], model.TakeLog());
        Assert.Equal(1, receipt.Messages);
        Assert.False(model.RxOccupiedLine(1));
        Assert.False(model.Occupied(2, 0));
    }

    [Fact]
    public void Acknowledge_OnlyAnotherMaskedChannel_SpuriousAndLeftOccupied()
    {
        var (model, ipcc) = Started();
        model.PeerSet(2, 3);

        Assert.False(model.RxOccupiedLine(1));
        Assert.True(ipcc.Acknowledge().IsSpurious);
        Assert.Equal(["R 01C:00000008"], model.TakeLog());
        Assert.True(model.Occupied(2, 3));
    }

    [Fact]
    public void Processor2_UsesTheSecondBlock()
    {
        var model = new Stm32IpccModel();
        var ipcc = new Stm32Ipcc(model, processor: 2, txChannel: 1, rxChannel: 0);

        ipcc.Start();
        Assert.True(ipcc.TryRing());

        Assert.Equal(["R 00C:00000000", "R 014:003F003F", "W 014:003F003E", "R 010:00000000", "W 010:00000001", "R 01C:00000000", "W 018:00020000"], model.TakeLog());
    }

    [Fact]
    public void Stop_MasksRxChannelAgain()
    {
        var (model, ipcc) = Started();

        ipcc.Stop();

        Assert.Equal(["R 004:003F003E", "W 004:003F003F"], model.TakeLog());
        model.PeerSet(2, 0);
        Assert.False(model.RxOccupiedLine(1));
    }

    [Fact]
    public void Unmapped_RingFalseAndAcknowledgeNotChecked()
    {
        var (model, ipcc) = Started();
        model.Unmapped = true;

        Assert.False(ipcc.TryRing());
        Assert.False(ipcc.Acknowledge().Checked);
    }

    [Theory]
    [InlineData(0, 0, 0, "processor")]
    [InlineData(1, 6, 0, "txChannel")]
    [InlineData(1, 0, 6, "rxChannel")]
    public void Constructor_OutOfRange_NamesParameter(int processor, int tx, int rx, string parameter)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Stm32Ipcc(new Stm32IpccModel(), processor, tx, rx));
        Assert.Equal(parameter, e.ParamName);
    }
}
