using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Chaos;

/// <summary>Wraps the remote's doorbell so the chaos peer can lose every ring (no kicks at all) or add spurious ones.</summary>
internal sealed class ChaosDoorbell(IDoorbell inner) : IDoorbell
{
    private volatile bool _drop;

    /// <summary>While true, <see cref="Ring"/> does nothing (the kick is lost).</summary>
    public bool DropRings
    {
        get => _drop;
        set => _drop = value;
    }

    public bool Ring() => !_drop && inner.Ring();

    /// <summary>A ring with nothing behind it.</summary>
    public bool RingSpurious() => inner.Ring();

    public bool Wait(TimeSpan timeout, CancellationToken cancellationToken = default) => inner.Wait(timeout, cancellationToken);

    public bool Drain() => inner.Drain();

    public void Dispose() => inner.Dispose();
}
