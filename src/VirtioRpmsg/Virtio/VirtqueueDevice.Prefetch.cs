namespace VirtioRpmsg.Virtio;

// The device's prefetch of its ring lines after a wake-up (the driver's is in VirtqueueDriver.Peek.cs).
public sealed partial class VirtqueueDevice
{
    /// <summary>
    /// Prefetches the lines this queue's next take and publication touch (<see cref="Vring.PrefetchDeviceLines"/>), so
    /// that their transfers from the driver's core overlap. For a thread just woken by a kick. Reads the positions
    /// without the caller's lock (a stale one only fetches another line), reads no shared memory, never throws.
    /// </summary>
    internal void PrefetchNextLines()
    {
        if (!_vring.TryAcquire(out var lease))
            return;
        using (lease)
            _vring.PrefetchDeviceLines(lease, _lastAvail & _mask, _usedShadow & _mask);
    }
}
