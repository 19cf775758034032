namespace VirtioRpmsg.Platform;

/// <summary>
/// The register protocol of one mailbox controller, seen from this side, for a <see cref="UioDoorbell"/>:
/// ring the peer, and on our interrupt take and clear what the peer sent so that a level-triggered
/// line drops before the UIO interrupt is enabled again. Implementations: <see cref="UioMailbox"/>
/// (one register, no acknowledge), <see cref="ImxMessagingUnit"/>, <see cref="TiMailbox"/>,
/// <see cref="Stm32Ipcc"/>, <see cref="XilinxIpi"/>.
/// </summary>
public interface IMailbox
{
    /// <summary>The controller and its registers, for messages.</summary>
    string Name { get; }

    /// <summary>
    /// Prepares receiving: takes anything stale (as <see cref="Acknowledge"/>) and enables our receive
    /// interrupt at the controller. Called before the UIO interrupt is first enabled (and again to start a stopped
    /// mailbox). It may wait, briefly, for a ring in progress on another thread (as <see cref="Stop"/>); rings and
    /// acknowledges made while it sets the controller up are refused (false, <see cref="MailboxReceipt.NotChecked"/>),
    /// and it returns with the receive interrupt enabled. Start and <see cref="Stop"/> run one at a time: called on
    /// two threads at once, the second waits for the first to return.
    /// </summary>
    void Start();

    /// <summary>
    /// Rings the peer. Never blocks, never allocates. False when the ring was not delivered now: the
    /// peer has not yet taken the previous one (a ring is therefore pending, nothing is lost), the
    /// registers are unmapped, or the mailbox is stopped (after <see cref="Stop"/>, until <see cref="Start"/>, a ring
    /// touches no register; it never throws for that).
    /// </summary>
    bool TryRing();

    /// <summary>
    /// As <see cref="TryRing()"/>, for a kick of vring <paramref name="vring"/> (0 or 1) of the vdev: a controller that
    /// names the vring (a message word, a channel per vring) signals that vring. Controllers that cannot name it ring
    /// as <see cref="TryRing()"/>. Never blocks, never allocates.
    /// </summary>
    bool TryRing(int vring) => TryRing();

    /// <summary>
    /// Sends the kicks the controller refused at their ring and can take now (a controller that keeps them: the
    /// i.MX MU and TI words, the STM32 IPCC vring channels); the others have none. A doorbell wait that times out
    /// calls it, so a kept kick waits at most until the waiter's next recheck even when neither side rings again.
    /// Never blocks, never allocates; does nothing when the mailbox is stopped.
    /// </summary>
    void FlushKicks()
    {
    }

    /// <summary>
    /// After our interrupt fired and before it is enabled again: reads and clears the incoming message
    /// or status. <see cref="MailboxReceipt.IsSpurious"/> when the controller had nothing for us. After
    /// <see cref="Stop"/> (until <see cref="Start"/>) it reads and clears nothing, so that an interrupt of whoever owns
    /// the controller next is left to it, and returns <see cref="MailboxReceipt.NotChecked"/>.
    /// </summary>
    MailboxReceipt Acknowledge();

    /// <summary>
    /// Disables our receive interrupt at the controller (the doorbell is closing), before it returns: the caller may
    /// unmap the registers next, or another mailbox may take the controller over. From its return until
    /// <see cref="Start"/> no ring, kept kick or acknowledge of this mailbox touches a register. Unlike a ring it may
    /// wait, briefly, for a ring or acknowledge in progress on another thread (a few register accesses); never for the
    /// peer. Not to be called from inside a ring or acknowledge of the same mailbox.
    /// </summary>
    void Stop();
}
