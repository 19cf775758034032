using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>The K3 mailbox driver against the register model (AM62x M4F link: rx FIFO 0, tx FIFO 1, user 0).</summary>
public sealed class TiMailboxTests
{
    private const int Rx = 0, Tx = 1, User = 0;

    private static (TiMailboxModel Model, TiMailbox Mailbox) Started(uint ringValue = 1)
    {
        var model = new TiMailboxModel();
        var mailbox = new TiMailbox(model, Tx, Rx, User, ringValue);
        mailbox.Start();
        model.TakeLog();
        return (model, mailbox);
    }

    [Fact]
    public void Start_DrainsClearsThenEnablesNewMessageOfRxFifo()
    {
        var model = new TiMailboxModel();
        var mailbox = new TiMailbox(model, Tx, Rx, User);

        mailbox.Start();

        Assert.Equal(["W 10C:FFFFFFFE", "R 0C0:00000000", "W 104:00000001", "R 104:00000000", "W 108:00000001"], model.TakeLog());
        Assert.Equal(1u, model.Enabled(User));
    }

    [Fact]
    public void TryRing_FifoNotFull_WritesTheWordIntoTxFifo()
    {
        var (model, mailbox) = Started(ringValue: 1);

        Assert.True(mailbox.TryRing());

        Assert.Equal(["R 084:00000000", "W 044:00000001"], model.TakeLog());
        Assert.Equal(1u, model.PeerReceive(Tx));
    }

    [Fact]
    public void TryRing_FifoFull_RefusedAndNoWordIsLost()
    {
        var (model, mailbox) = Started();
        for (int i = 0; i < TiMailbox.FifoDepth; i++)
            Assert.True(mailbox.TryRing());
        model.TakeLog();

        Assert.False(mailbox.TryRing());

        Assert.Equal(["R 084:00000001"], model.TakeLog());
        Assert.Equal(0, model.Lost);
        Assert.Equal(TiMailbox.FifoDepth, model.Queued(Tx));
    }

    [Fact]
    public void Acknowledge_ThreeQueued_DrainsAllThenClearsStatusAndReadsItBack()
    {
        var (model, mailbox) = Started();
        model.PeerSend(Rx, 0xA);
        model.PeerSend(Rx, 0xB);
        model.PeerSend(Rx, 0xC);
        Assert.True(model.InterruptLine(User));

        var receipt = mailbox.Acknowledge();

        Assert.Equal(
        [
            "R 0C0:00000003", "R 040:0000000A",
            "R 0C0:00000002", "R 040:0000000B",
            "R 0C0:00000001", "R 040:0000000C",
            "R 0C0:00000000",
            "W 104:00000001", "R 104:00000000",
        ], model.TakeLog());
        Assert.Equal(new MailboxReceipt(3, 0xC), receipt);
        Assert.False(model.InterruptLine(User));
        Assert.Equal(0, model.EmptyReads);
    }

    [Fact]
    public void Model_ClearBeforeDrain_LeavesTheLineUp()
    {
        // Why the driver drains first: the status comes straight back while words remain.
        var (model, _) = Started();
        model.PeerSend(Rx, 1);

        model.TryWrite32(TiMailbox.IrqStatusClear(User), TiMailbox.NewMessageBit(Rx));

        Assert.True(model.InterruptLine(User));
    }

    [Fact]
    public void Acknowledge_Empty_SpuriousButStatusStillCleared()
    {
        var (model, mailbox) = Started();

        var receipt = mailbox.Acknowledge();

        Assert.True(receipt.IsSpurious);
        Assert.Equal(["R 0C0:00000000", "W 104:00000001", "R 104:00000000"], model.TakeLog());
    }

    [Fact]
    public void Acknowledge_PeerRefillsWhileWeRead_BoundedDrain()
    {
        var (model, mailbox) = Started();
        model.PeerSend(Rx, 0);
        uint next = 1;
        model.OnAccess = entry =>
        {
            if (entry.StartsWith("R 040", StringComparison.Ordinal))
                model.PeerSend(Rx, next++);
        };

        var receipt = mailbox.Acknowledge();

        Assert.Equal(4 * TiMailbox.FifoDepth, receipt.Messages);
        Assert.True(model.InterruptLine(User)); // still words queued: the line fires again after re-enable
    }

    [Fact]
    public void Stop_WritesIrqEnableClear()
    {
        var (model, mailbox) = Started();

        mailbox.Stop();

        Assert.Equal(["W 10C:00000001"], model.TakeLog());
        Assert.Equal(0u, model.Enabled(User));
    }

    [Fact]
    public void UserThree_UsesItsOwnInterruptRegisters()
    {
        var model = new TiMailboxModel();
        var mailbox = new TiMailbox(model, txFifo: 5, rxFifo: 4, user: 3);

        mailbox.Start();

        // FIFO 4's new-message bit is bit 8; user 3's registers are 0x30 above user 0's.
        Assert.Equal(["W 13C:FFFFFEFF", "R 0D0:00000000", "W 134:00000100", "R 134:00000000", "W 138:00000100"], model.TakeLog());
    }

    [Fact]
    public void Unmapped_RingFalseAndAcknowledgeNotChecked()
    {
        var (model, mailbox) = Started();
        model.Unmapped = true;

        Assert.False(mailbox.TryRing());
        Assert.False(mailbox.Acknowledge().Checked);
    }

    [Theory]
    [InlineData(16, 0, 0, "txFifo")]
    [InlineData(1, 16, 0, "rxFifo")]
    [InlineData(1, 0, 4, "user")]
    public void Constructor_OutOfRange_NamesParameter(int tx, int rx, int user, string parameter)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TiMailbox(new TiMailboxModel(), tx, rx, user));
        Assert.Equal(parameter, e.ParamName);
    }

    [Fact]
    public void Constructor_SameFifoBothWays_Rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new TiMailbox(new TiMailboxModel(), 2, 2, 0));
        Assert.Contains("both 2", e.Message, StringComparison.Ordinal);
    }
}
