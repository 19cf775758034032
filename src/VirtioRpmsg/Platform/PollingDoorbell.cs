using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Platform;

/// <summary>
/// No doorbell at all: the waiter polls a "has work" predicate (typically: did the peer's index in
/// shared memory move?) with a short bounded spin, then sleeps 1 ms between checks. Ring does nothing.
/// For peers that cannot signal (bare-metal firmware without a mailbox) or for lowest latency on a
/// dedicated core.
/// </summary>
public sealed class PollingDoorbell : IDoorbell
{
    private readonly Func<bool> _hasWork;

    /// <param name="hasWork">Returns true when there is something to do. It may take (and must release) leases.</param>
    public PollingDoorbell(Func<bool> hasWork)
    {
        _hasWork = hasWork ?? throw new ArgumentNullException(nameof(hasWork));
    }

    /// <summary>Nothing to signal: the peer polls. Always true.</summary>
    public bool Ring() => true;

    /// <summary>Polls the predicate until it is true (returns true) or the timeout passes (false).</summary>
    public bool Wait(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        MappingLease.ThrowIfHeld("IDoorbell.Wait");
        var deadline = Deadline.From(timeout, nameof(timeout));
        cancellationToken.ThrowIfCancellationRequested();
        var spin = new SpinWait();
        while (true)
        {
            if (_hasWork())
                return true;
            if (deadline.IsExpired)
                return false;
            cancellationToken.ThrowIfCancellationRequested();
            // Spin briefly (cheap when the peer answers within microseconds), then stop burning the
            // core: 1 ms sleeps bound the latency without starving a 2-core machine.
            if (!spin.NextSpinWillYield)
                spin.SpinOnce(sleep1Threshold: -1);
            else
                Thread.Sleep(1);
        }
    }

    /// <summary>There are never pending rings to consume; always false.</summary>
    public bool Drain() => false;

    /// <summary>Nothing to release: a polling doorbell owns no resources.</summary>
    public void Dispose()
    {
    }
}
