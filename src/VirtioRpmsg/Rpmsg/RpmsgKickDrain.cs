using System.Diagnostics;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// Reads the peer's kicks while nobody waits on the doorbell: a dispatcher thread that works or spins, and a
/// <see cref="RpmsgWaitStrategy.CallerPoll"/> device's <see cref="RpmsgDevice.Poll"/>. At most once per
/// <see cref="Interval"/>, and not at all where kicks cannot pile up. Each user keeps its own, used by one thread at a
/// time (the dispatcher thread; a Poll's ring owner).
/// </summary>
/// <remarks>
/// Kicks come even then: a peer that ignores the suppression hint, tx-return notifications armed for a sender, a kick
/// that raced the disable. A peer whose kick blocks (OpenAMP's one-byte send() on a Unix socket) would fill the doorbell
/// and hang, so they are read; every 100 us bounds the backlog far below a socket buffer at one system call per 100 us.
/// An eventfd counts kicks in a 64-bit counter that cannot fill, and a polling doorbell has nothing to read: there the
/// system call is skipped (on the project's VM it cost a CallerPoll ping about 1 us per look, docs/benchmarks-notes.md,
/// sixteenth round). A kick left pending only makes the next wait return at once, and every wait re-checks the ring.
/// A caller-polled device never waits: its drain reports a peer gone for good (a descriptor doorbell's socket closed or
/// UIO device removed) as <see cref="DoorbellClosedException"/>, which a wait would have raised
/// (<see cref="DrainIfDue(IDoorbell, bool)"/>); otherwise it would poll a dead peer's ring for ever.
/// </remarks>
internal sealed class RpmsgKickDrain
{
    /// <summary>The shortest time between two reads of the doorbell.</summary>
    internal static readonly long Interval = Stopwatch.Frequency / 10_000;

    private long _last;

    /// <summary>True when kicks can pile up in <paramref name="doorbell"/> (it is not an eventfd or a polling doorbell).</summary>
    internal static bool IsNeeded(IDoorbell doorbell) => doorbell is not (EventFdDoorbell or PollingDoorbell);

    /// <summary>Reads <paramref name="doorbell"/>'s pending kicks without waiting, if it needs that and its time has come.</summary>
    internal void DrainIfDue(IDoorbell doorbell) => DrainIfDue(doorbell, reportClosed: false);

    /// <summary>
    /// <see cref="DrainIfDue(IDoorbell)"/>; with <paramref name="reportClosed"/>, a descriptor doorbell whose peer is gone
    /// (nothing pending, its end closed) raises <see cref="DoorbellClosedException"/>, for a side that never waits.
    /// </summary>
    /// <exception cref="DoorbellClosedException">With <paramref name="reportClosed"/>: the peer's end is gone.</exception>
    internal void DrainIfDue(IDoorbell doorbell, bool reportClosed)
    {
        // The kind first: an eventfd never pays for the clock.
        if (IsNeeded(doorbell))
            DrainIfDueAt(doorbell, Stopwatch.GetTimestamp(), reportClosed);
        else if (reportClosed && doorbell is EventFdDoorbell { KeepsConnection: true } kept)
            CheckPeerIfDue(kept);
    }

    /// <summary>The shortest time between two looks at a kept eventfd connection (<see cref="CheckPeerIfDue"/>).</summary>
    internal static readonly long PeerCheckInterval = Stopwatch.Frequency / 100;

    private long _lastPeerCheck;

    // A caller-polled device over an eventfd pair whose connection is kept (a board.json doorbell socket) never waits,
    // so no timed-out wait sees the peer close that connection: look at it here, at most every 10 ms (one poll()).
    private void CheckPeerIfDue(EventFdDoorbell doorbell)
    {
        long now = Stopwatch.GetTimestamp();
        if (now - _lastPeerCheck < PeerCheckInterval)
            return;
        _lastPeerCheck = now;
        doorbell.ThrowIfPeerGone();
    }

    /// <summary><see cref="DrainIfDue(IDoorbell)"/> at <paramref name="now"/> (Stopwatch ticks; tests give their own).</summary>
    internal void DrainIfDue(IDoorbell doorbell, long now)
    {
        if (IsNeeded(doorbell))
            DrainIfDueAt(doorbell, now, reportClosed: false);
    }

    private void DrainIfDueAt(IDoorbell doorbell, long now, bool reportClosed)
    {
        if (now - _last < Interval)
            return;
        _last = now;
        if (reportClosed && doorbell is FileDescriptorDoorbell descriptor)
            descriptor.DrainOrThrowIfClosed();
        else
            doorbell.Drain();
    }
}
