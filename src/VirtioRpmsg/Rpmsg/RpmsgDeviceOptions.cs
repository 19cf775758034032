using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace VirtioRpmsg.Rpmsg;

/// <summary>Settings of one rpmsg device.</summary>
public sealed class RpmsgDeviceOptions
{
    /// <summary>Name used in logs, errors, metrics and the thread name (not null or empty).</summary>
    public string Name { get; set; } = "rpmsg0";

    /// <summary>How the dispatcher waits for the peer.</summary>
    public RpmsgWaitStrategy WaitStrategy { get; set; } = RpmsgWaitStrategy.Interrupt;

    /// <summary>
    /// Pin the dispatcher thread to this CPU (busy-poll on a dedicated core for latency-critical
    /// apps). Null: leave placement to the scheduler.
    /// </summary>
    public int? DispatcherCpu { get; set; }

    /// <summary>
    /// Default timeout of blocking and async sends (Linux and OpenAMP use 15 s); receives take their own. Zero tries once without waiting;
    /// <see cref="Timeout.InfiniteTimeSpan"/> waits forever; any other negative value is refused.
    /// </summary>
    public TimeSpan SendTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The longest each name-service message sent as the link comes up (withdrawals, then CREATEs) waits for a tx buffer
    /// when <see cref="SendTimeout"/> is infinite (once one timed out, the rest only try): they run on the dispatcher (or
    /// a Poll), which delivers nothing meanwhile. Linux's own send timeout; internal (tests shorten it).
    /// </summary>
    internal TimeSpan LinkUpAnnounceLimit { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Hybrid strategy: how long to spin before blocking (zero or more).</summary>
    public TimeSpan HybridSpin { get; set; } = TimeSpan.FromMicroseconds(50);

    /// <summary>Busy-poll strategy: how long without traffic before falling back to blocking (zero or more).</summary>
    public TimeSpan BusyPollIdleTimeout { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// While blocked, the dispatcher re-checks the rings this often even without a doorbell, so a
    /// lost doorbell costs latency, never a message. From 1 ms to int.MaxValue ms (no infinite).
    /// </summary>
    public TimeSpan IdleRecheckInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Interrupt strategy: a thread blocked in a queue endpoint's <c>Receive</c> (or a stream's <c>Read</c>) waits on
    /// the doorbell itself and takes its message off the ring, instead of being woken by the dispatcher thread (a
    /// wake-up and a switch per message); for parked <c>ReceiveAsync</c>s a thread-pool work item does, and runs
    /// their continuations on its own thread. Messages for other endpoints that arrive while that reader is between
    /// two receives may then wait up to about 2 ms. Off: every message goes through the dispatcher thread, and
    /// every async continuation through a thread-pool work item.
    /// </summary>
    public bool ReaderWaitsOnDoorbell { get; set; } = true;

    /// <summary>Offer/accept the name service (VIRTIO_RPMSG_F_NS).</summary>
    public bool NameService { get; set; } = true;

    /// <summary>Use VIRTIO_RING_F_EVENT_IDX when the other side offers it.</summary>
    public bool EventIndex { get; set; } = true;

    /// <summary>Messages a queue-style endpoint holds before it drops (and counts) new ones (1 to 2^30 - 1).</summary>
    public int EndpointQueueCapacity { get; set; } = 1024;

    /// <summary>
    /// Memory all queue-style endpoints of the device may hold in received messages together (payloads
    /// plus 64 bytes each), 16 MiB by default. Past it new messages are dropped and counted (the
    /// endpoint's <c>QueueDrops</c> and the device's <c>Dropped</c>), so a remote that floods endpoints
    /// nobody reads cannot make us hold MaxEndpoints x EndpointQueueCapacity messages. The dispatcher's
    /// parking backlog (messages that arrive while a callback is blocked sending) grows within it too.
    /// </summary>
    public long MaxQueuedBytes { get; set; } = 16L << 20;

    /// <summary>
    /// Largest number of endpoints, the application's own and those the peer makes us create (channels from
    /// announcements) together: a create beyond it throws <see cref="InvalidOperationException"/>.
    /// </summary>
    public int MaxEndpoints { get; set; } = 1024;

    /// <summary>
    /// Services the peer may have announced on this device at once, bound to a driver or not (default
    /// 1024). Past it an announcement creates nothing: it is counted
    /// (<see cref="RpmsgCounters.NameServiceRefused"/>) and logged with the limit, so a remote that
    /// announces channels without end cannot grow our memory. A destroy frees its slot.
    /// </summary>
    public int MaxAnnouncedServices { get; set; } = 1024;

    /// <summary>
    /// Service names the peer may make us bind (a channel per announcement); null allows every name.
    /// An announcement for any other name is refused, counted as an error and logged, and creates nothing.
    /// </summary>
    public IReadOnlyCollection<string>? AllowedServices { get; set; }

    /// <summary>Log sink (not null: <see cref="NullLogger.Instance"/> logs nothing); nothing is logged on the per-message fast path unless something is wrong.</summary>
    public ILogger Logger { get; set; } = NullLogger.Instance;

    /// <summary>A copy under another name (one per vdev of a link: names must differ in logs and metrics).</summary>
    internal RpmsgDeviceOptions WithName(string name)
    {
        var copy = (RpmsgDeviceOptions)MemberwiseClone();
        copy.Name = name;
        return copy;
    }

    /// <summary>Largest <see cref="IdleRecheckInterval"/>: the waits it bounds take whole milliseconds in an int.</summary>
    private static readonly TimeSpan MaxIdleRecheckInterval = TimeSpan.FromMilliseconds(int.MaxValue);

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(Name, nameof(Name));
        // The counters and the dispatcher log through it without a null check (a fault would then end in a NullReferenceException).
        ArgumentNullException.ThrowIfNull(Logger, nameof(Logger));
        if (!Enum.IsDefined(WaitStrategy))
            throw new ArgumentOutOfRangeException(nameof(WaitStrategy), WaitStrategy, $"WaitStrategy {(int)WaitStrategy} is not an RpmsgWaitStrategy value.");
        // Zero is a try: a send or receive that does not wait (Deadline.Within).
        if (SendTimeout < TimeSpan.Zero && SendTimeout != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(SendTimeout), SendTimeout, "SendTimeout must be zero (do not wait), positive, or Timeout.InfiniteTimeSpan.");
        // Infinite would undo what the interval is for (a lost doorbell costs latency, never a message); below 1 ms the
        // millisecond waits it bounds become spins.
        if (IdleRecheckInterval < TimeSpan.FromMilliseconds(1) || IdleRecheckInterval > MaxIdleRecheckInterval)
            throw new ArgumentOutOfRangeException(nameof(IdleRecheckInterval), IdleRecheckInterval, $"IdleRecheckInterval must be from 1 ms to {int.MaxValue} ms.");
        if (HybridSpin < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(HybridSpin), HybridSpin, "HybridSpin must be zero or positive.");
        if (BusyPollIdleTimeout < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(BusyPollIdleTimeout), BusyPollIdleTimeout, "BusyPollIdleTimeout must be zero or positive.");
        if (EndpointQueueCapacity < 1 || EndpointQueueCapacity > RpmsgEndpointQueue.MaxCapacity)
            throw new ArgumentOutOfRangeException(nameof(EndpointQueueCapacity), EndpointQueueCapacity, $"EndpointQueueCapacity must be from 1 to {RpmsgEndpointQueue.MaxCapacity}.");
        if (DispatcherCpu is < 0)
            throw new ArgumentOutOfRangeException(nameof(DispatcherCpu), DispatcherCpu, "DispatcherCpu must be a CPU number (0 or more).");
        if (MaxQueuedBytes < ushort.MaxValue + 64L)
            throw new ArgumentOutOfRangeException(nameof(MaxQueuedBytes), MaxQueuedBytes, $"MaxQueuedBytes must hold at least one largest message ({ushort.MaxValue + 64L} bytes).");
        if (MaxEndpoints < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxEndpoints), MaxEndpoints, "MaxEndpoints must be at least 1.");
        if (MaxAnnouncedServices < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxAnnouncedServices), MaxAnnouncedServices, "MaxAnnouncedServices must be at least 1.");
    }
}
