namespace VirtioRpmsg.Virtio;

// A consumer's give-back and next take in one step: one lease and one broken check instead of two.
public sealed partial class VirtqueueDriver
{
    /// <summary>
    /// <see cref="TryAddPooled"/>, then <see cref="TryGetUsedOrPublish"/>, under one lease: a consumer that re-posts the
    /// buffer it used and looks for the next. <paramref name="added"/> false (nothing added, nothing taken or published)
    /// when no descriptor is free.
    /// </summary>
    /// <exception cref="VirtqueueBrokenException">
    /// The device wrote an invalid used index or element, or the queue was already broken.
    /// </exception>
    internal bool TryAddPooledThenGetUsedOrPublish(ulong deviceAddress, uint length, bool deviceWritable, int token, out bool added,
        out int usedToken, out uint usedLength, out bool kick)
    {
        _health.ThrowIfBroken();
        using var lease = _vring.Acquire();
        added = AddPooled(lease, deviceAddress, length, deviceWritable, token);
        if (!added)
        {
            usedToken = 0;
            usedLength = 0;
            kick = false;
            return false;
        }
        if (TakeUsed(lease, out usedToken, out usedLength))
        {
            kick = false;
            return true;
        }
        kick = Publish(lease);
        return false;
    }
}
