namespace VirtioRpmsg.Platform;

/// <summary>What <see cref="IMailbox.Acknowledge"/> found at the controller.</summary>
/// <param name="Messages">Messages or events taken and cleared (0: nothing was pending).</param>
/// <param name="LastMessage">The last message word read, for controllers that carry one (0 otherwise).</param>
/// <param name="Checked">False when the controller was not read: it has no receive register, its registers are unmapped, or the mailbox is stopped.</param>
public readonly record struct MailboxReceipt(int Messages, uint LastMessage, bool Checked = true)
{
    /// <summary>Nothing was read: no receive register, the registers are unmapped, or the mailbox is stopped.</summary>
    public static MailboxReceipt NotChecked => new(0, 0, Checked: false);

    /// <summary>The controller was read and had nothing for us: the interrupt was spurious (or shared).</summary>
    public bool IsSpurious => Checked && Messages == 0;
}
