using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>
/// Review (mbstop): once Stop has returned, a mailbox must not change the controller behind the back of the next
/// one made over the same registers (a UioDoorbell disposed and opened again on a UIO region that stays mapped). A
/// sender that passed the doorbell's disposed check just before Dispose, or a wait that timed out just then, still
/// reaches the old mailbox; its read-modify-write or its word must not undo what the new mailbox set up.
/// </summary>
public sealed class MailboxAfterStopReviewTests
{
    [Fact]
    public void ImxGeneralPurpose_ARingOfAStoppedMailbox_DoesNotClearTheEnableOfTheNextOne()
    {
        var model = new ImxMuModel(ImxMuLayout.V1);
        var old = new ImxMessagingUnit(model, signal: ImxMuSignal.GeneralPurpose);
        old.Start();
        old.Stop();
        var fresh = new ImxMessagingUnit(model, signal: ImxMuSignal.GeneralPurpose);
        bool started = false;
        // The late ring reads the control register, the new mailbox starts (sets GIE1), the ring writes back what it read.
        model.OnAccess = entry =>
        {
            if (started || !entry.StartsWith("R 024:", StringComparison.Ordinal))
                return;
            started = true;
            fresh.Start();
        };

        bool rang = old.TryRing();
        model.OnAccess = null;
        if (!started)
            fresh.Start();

        Assert.True(model.GeneralPurposeInterruptEnabled(1), "the stopped mailbox's late ring wrote back GIE1 clear over the new mailbox's enable: it never gets an interrupt");
        Assert.False(rang, "a ring after Stop went out");
    }

    [Fact]
    public void ImxData_AKeptKickFlushedByAStoppedMailbox_DoesNotOverwriteTheNextOnesWord()
    {
        var model = new ImxMuModel(ImxMuLayout.V1);
        var old = new ImxMessagingUnit(model);
        old.Start();
        Assert.True(old.TryRing(1));
        Assert.False(old.TryRing(0)); // TR1 unread: vring 0's word is kept
        old.Stop();
        Assert.Equal(1u << 16, model.PeerReceive(1));
        var fresh = new ImxMessagingUnit(model);
        fresh.Start();
        bool rang = false;
        // The old doorbell's wait times out as it is disposed: its flush checks TE1, the new mailbox rings, the flush writes.
        model.OnAccess = entry =>
        {
            if (rang || !entry.StartsWith("R 020:", StringComparison.Ordinal))
                return;
            rang = true;
            Assert.True(fresh.TryRing(1));
        };

        old.FlushKicks();
        model.OnAccess = null;
        if (!rang)
            Assert.True(fresh.TryRing(1));

        Assert.True(model.LostToPeer == 0, $"the stopped mailbox's kept word overwrote the new mailbox's unread word ({model.LostToPeer} lost)");
        Assert.Equal(1u << 16, model.PeerReceive(1));
    }

    [Fact]
    public void Stm32Ipcc_AKeptKickOfAStoppedMailbox_IsNotSentIntoTheNextSession()
    {
        var model = new Stm32IpccModel();
        var old = Stm32Ipcc.ForVrings(model);
        old.Start();
        Assert.True(old.TryRing(0));
        Assert.False(old.TryRing(0)); // channel 0 still occupied: kept
        old.Stop();
        model.PeerClear(2, 0);
        var fresh = Stm32Ipcc.ForVrings(model);
        fresh.Start();
        model.TakeLog();

        old.FlushKicks();
        old.Acknowledge();

        Assert.False(model.Occupied(1, 0), "the stopped mailbox's kept kick of the earlier session reached the remote");
    }
}
