using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>A UIO doorbell driving a controller model: start, ring, and acknowledge before the line is re-enabled.</summary>
public sealed class UioDoorbellMailboxTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public void Open_StartsTheMailboxBeforeEnablingTheLine()
    {
        using var device = new FakeUioDevice();
        var model = new ImxMuModel(ImxMuLayout.V1);
        int enableWordsAtStart = -1;
        model.OnAccess = _ => enableWordsAtStart = enableWordsAtStart < 0 ? device.TakeWrittenWords().Count : enableWordsAtStart;

        using var doorbell = device.Open(new ImxMessagingUnit(model));

        Assert.Equal(0, enableWordsAtStart);
        Assert.Equal([1u], device.TakeWrittenWords());
        Assert.True(model.ReceiveInterruptEnabled(1));
    }

    [Fact]
    public void Wait_Interrupt_MessageTakenBeforeTheLineIsReEnabled()
    {
        using var device = new FakeUioDevice();
        var model = new ImxMuModel(ImxMuLayout.V1);
        using var doorbell = device.Open(new ImxMessagingUnit(model));
        device.TakeWrittenWords();
        model.TakeLog();
        model.PeerSend(1, 0x0001_0000);
        model.OnAccess = entry =>
        {
            // At the RR1 read, the doorbell must not have re-enabled the interrupt yet.
            if (entry.StartsWith("R 014", StringComparison.Ordinal))
                Assert.Empty(device.TakeWrittenWords());
        };
        device.Interrupt(1);

        Assert.True(doorbell.Wait(Bound));

        Assert.Equal(["R 020:04F00000", "R 014:00010000"], model.TakeLog());
        Assert.Equal([1u], device.TakeWrittenWords());
        Assert.False(model.InterruptLine);
        Assert.Equal(new MailboxReceipt(1, 0x0001_0000), doorbell.LastReceipt);
        Assert.Equal(0, doorbell.SpuriousInterrupts);
    }

    [Fact]
    public void Wait_InterruptWithNothingAtTheController_CountedSpurious()
    {
        using var device = new FakeUioDevice();
        var model = new XilinxIpiModel(0x0100_0000, 0x100);
        using var doorbell = device.Open(new XilinxIpi(model, 0x100));
        device.Interrupt(1);

        Assert.True(doorbell.Wait(Bound));

        Assert.Equal(1, doorbell.SpuriousInterrupts);
        Assert.True(doorbell.LastReceipt.IsSpurious);
    }

    [Fact]
    public void Ring_GoesThroughTheControllerProtocol()
    {
        using var device = new FakeUioDevice();
        var model = new TiMailboxModel();
        using var doorbell = device.Open(new TiMailbox(model, txFifo: 1, rxFifo: 0, user: 0, ringValue: 1));

        for (int i = 0; i < TiMailbox.FifoDepth; i++)
            Assert.True(doorbell.Ring());
        Assert.False(doorbell.Ring());

        Assert.Equal(0, model.Lost);
    }

    [Fact]
    public void Dispose_StopsTheMailbox()
    {
        var device = new FakeUioDevice();
        var model = new Stm32IpccModel();
        var doorbell = device.Open(new Stm32Ipcc(model, 1, 0, 0));

        doorbell.Dispose();
        device.Dispose();

        Assert.Equal(0x003F_003Fu, model.MaskRegister(1));
    }

    [Fact]
    public void MmioRegisterBlock_OverAMappedRegion_ReadsWritesAndRefusesAfterUnmap()
    {
        var region = SharedMemoryRegion.CreateAnonymous(4096, name: "vrpmsg-test-mmio");
        var block = new MmioRegisterBlock(region, 0x100, 0x40);

        Assert.True(block.TryWrite32(0x3C, 0xCAFE_F00D));
        Assert.True(block.TryRead32(0x3C, out uint value));
        Assert.Equal(0xCAFE_F00Du, value);
        Assert.True(region.TryAcquire(region.Generation, out var lease));
        using (lease)
            Assert.Equal(0xCAFE_F00Du, lease.ReadUInt32(0x13C));
        Assert.Equal("vrpmsg-test-mmio+0x100", block.Name);

        region.Dispose();

        Assert.False(block.TryWrite32(0, 1));
        Assert.False(block.TryRead32(0, out _));
    }

    [Theory]
    [InlineData(0x2)]
    [InlineData(0x40)]
    [InlineData(-4)]
    public void MmioRegisterBlock_MisalignedOrOutside_ThrowsNamingOffset(long offset)
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096, name: "vrpmsg-test-mmio");
        var block = new MmioRegisterBlock(region, 0, 0x40);

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => block.TryRead32(offset, out _));

        Assert.Equal("offset", e.ParamName);
    }

    [Fact]
    public void MmioRegisterBlock_DoesNotFitTheRegion_Throws()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096, name: "vrpmsg-test-mmio");

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MmioRegisterBlock(region, 0xFF0, 0x20));

        Assert.Equal("size", e.ParamName);
        Assert.Contains("vrpmsg-test-mmio", e.Message, StringComparison.Ordinal);
    }
}
