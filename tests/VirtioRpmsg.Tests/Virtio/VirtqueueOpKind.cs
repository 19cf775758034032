namespace VirtioRpmsg.Tests.Virtio;

/// <summary>One API call of either role, for model-based tests.</summary>
public enum VirtqueueOpKind
{
    Add,
    Kick,
    Take,
    Push,
    Notify,
    Reclaim,
    DisableInterrupts,
    EnableInterrupts,
    DisableNotifications,
    EnableNotifications,
    Reset,
}
