using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Platform;

/// <summary>
/// Waits for a descriptor to become ready with a deadline and a <see cref="CancellationToken"/>:
/// poll() on the descriptor plus a private wake eventfd that cancellation (and disposal) signal.
/// One waiting thread at a time; a second concurrent waiter is a usage error.
/// </summary>
internal sealed unsafe class DescriptorWaiter : IDisposable
{
    private readonly FileDescriptor _wake;
    private readonly string _subject;
    private int _busy;
    private volatile bool _disposed;
    // ReadBlocking: the descriptor a thread is blocked in read() on (Wake writes to it), and the Drains
    // under way on it (a blocked reader waits them out; see TryEnterDrain).
    private FileDescriptor? _blockedOn;
    private int _draining;

    /// <summary><see cref="ReadBlocking"/>: the descriptor is in non-blocking mode (read() said EAGAIN).</summary>
    internal const int NotBlocking = -1;

    /// <summary>The shortest wait worth a blocking read: shorter ones poll (their timeout is the kernel's, exact).</summary>
    internal static readonly TimeSpan BlockingReadMinimum = TimeSpan.FromMilliseconds(100);

    internal DescriptorWaiter(string subject)
    {
        _subject = subject;
        NativeCallException.ThrowIfError(Native.EventFd(out int fd), "eventfd", subject);
        _wake = new FileDescriptor(fd);
    }

    /// <summary>
    /// Waits until <paramref name="fd"/> is readable (or writable), hung up or in error; true if so,
    /// false when <paramref name="deadline"/> passes. A null <paramref name="fd"/> just waits out the
    /// deadline (a cancellable sleep). Throws <see cref="OperationCanceledException"/> on cancellation
    /// and <see cref="ObjectDisposedException"/> if the owner is disposed meanwhile.
    /// </summary>
    internal bool WaitReady(FileDescriptor? fd, bool forWrite, Deadline deadline, CancellationToken cancellationToken)
    {
        Enter(cancellationToken);
        bool fdRef = false, wakeRef = false;
        CancellationTokenRegistration registration = default;
        try
        {
            // References keep both descriptors open (and their numbers unreused) while poll() uses them.
            fd?.DangerousAddRef(ref fdRef);
            _wake.DangerousAddRef(ref wakeRef);
            if (cancellationToken.CanBeCanceled)
                registration = cancellationToken.UnsafeRegister(static s => ((DescriptorWaiter)s!).Wake(), this);
            int raw = fd is null ? -1 : fd.Value;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                ObjectDisposedException.ThrowIf(_disposed, this);
                int r = Native.Poll2(raw, forWrite ? 1 : 0, _wake.Value, deadline.RemainingMilliseconds, out int ready);
                if (r == -Errno.EINTR)
                    continue;
                NativeCallException.ThrowIfError(r, "poll", _subject);
                if ((ready & Native.ReadyWake) != 0)
                {
                    // Cancellation, disposal, or a stale signal from an earlier wait: consume it and
                    // let the loop head decide which.
                    ulong discard;
                    Native.Read(_wake.Value, &discard, sizeof(ulong));
                    continue;
                }
                if ((ready & Native.ReadyInvalid) != 0)
                    throw new ObjectDisposedException(_subject, $"The descriptor of '{_subject}' was closed during the wait.");
                if ((ready & Native.ReadyFd) != 0)
                    return true;
                if (deadline.IsExpired)
                    return false;
            }
        }
        finally
        {
            // Dispose waits for a running callback, so no Wake() can touch the descriptor after this.
            registration.Dispose();
            if (wakeRef)
                _wake.DangerousRelease();
            if (fdRef)
                fd!.DangerousRelease();
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>
    /// Waits until any of <paramref name="fds"/> (at most 7) is readable, hung up or in error; returns the
    /// bit mask of ready ones (bit i for fds[i]), 0 when <paramref name="deadline"/> passes. Cancellation,
    /// disposal and lease rules as in <see cref="WaitReady"/>.
    /// </summary>
    internal int WaitAnyReadable(FileDescriptor[] fds, Deadline deadline, CancellationToken cancellationToken)
    {
        if (fds.Length is < 1 or >= Native.MaxPolled)
            throw new ArgumentOutOfRangeException(nameof(fds), fds.Length, $"between 1 and {Native.MaxPolled - 1} descriptors can be waited on at once");
        Enter(cancellationToken);
        Span<bool> added = stackalloc bool[fds.Length + 1];
        CancellationTokenRegistration registration = default;
        try
        {
            int* raw = stackalloc int[fds.Length + 1];
            for (int i = 0; i < fds.Length; i++)
            {
                fds[i].DangerousAddRef(ref added[i]);
                raw[i] = fds[i].Value;
            }
            _wake.DangerousAddRef(ref added[fds.Length]);
            raw[fds.Length] = _wake.Value;
            int wakeBit = 1 << fds.Length;
            if (cancellationToken.CanBeCanceled)
                registration = cancellationToken.UnsafeRegister(static s => ((DescriptorWaiter)s!).Wake(), this);
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                ObjectDisposedException.ThrowIf(_disposed, this);
                int r = Native.PollMany(raw, fds.Length + 1, deadline.RemainingMilliseconds, out int ready, out int invalid);
                if (r == -Errno.EINTR)
                    continue;
                NativeCallException.ThrowIfError(r, "poll", _subject);
                if ((ready & wakeBit) != 0)
                {
                    ulong discard;
                    Native.Read(_wake.Value, &discard, sizeof(ulong));
                    continue;
                }
                if (invalid != 0)
                    throw new ObjectDisposedException(_subject, $"A descriptor of '{_subject}' was closed during the wait.");
                if (ready != 0)
                    return ready;
                if (deadline.IsExpired)
                    return 0;
            }
        }
        finally
        {
            registration.Dispose();
            for (int i = 0; i < fds.Length; i++)
            {
                if (added[i])
                    fds[i].DangerousRelease();
            }
            if (added[fds.Length])
                _wake.DangerousRelease();
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>
    /// Blocks in read() on <paramref name="fd"/> (a blocking eventfd) until it yields a count or
    /// <paramref name="deadline"/> passes: one system call per wake-up where poll() + read() takes two (about
    /// 3 us more per cross-core round trip on a KVM guest, measured with the C ping-pong). read() cannot time out
    /// or be interrupted, so cancellation, disposal and <see cref="DeadlineWaker"/> at the deadline end it by adding
    /// to the same counter: the caller sees a spurious ring, which every doorbell waiter already tolerates.
    /// Returns 1 on a count (a ring, or one of those wake-ups before the deadline), 0 at the deadline, and
    /// <see cref="NotBlocking"/> when the descriptor turned out to be non-blocking (its open file is shared with
    /// the peer, which may set O_NONBLOCK on it): the caller then waits with poll().
    /// </summary>
    internal int ReadBlocking(FileDescriptor fd, Deadline deadline, CancellationToken cancellationToken)
    {
        Enter(cancellationToken);
        bool fdRef = false;
        bool timed = false;
        CancellationTokenRegistration registration = default;
        try
        {
            fd.DangerousAddRef(ref fdRef);
            // Full fence: publish, then read _disposed and _draining below (Dispose writes _disposed, then reads
            // _blockedOn; a Drain counts itself in _draining, then reads _blockedOn).
            Interlocked.Exchange(ref _blockedOn, fd);
            if (cancellationToken.CanBeCanceled)
                registration = cancellationToken.UnsafeRegister(static s => ((DescriptorWaiter)s!).Wake(), this);
            if (!deadline.IsInfinite)
            {
                DeadlineWaker.Add(this, deadline.Timestamp);
                timed = true;
            }
            // A Drain that began before the publication may still take a count meant to end this read. Let it
            // finish; every wake-up sets its flag (token, _disposed, the clock) before it writes, so the checks
            // below see any count such a Drain took.
            var drains = new SpinWait();
            while (Volatile.Read(ref _draining) != 0)
                drains.SpinOnce();
            ulong count = 0;
            int r = 0;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (deadline.IsExpired)
                {
                    r = 0; // no read (an earlier one may have ended with EINTR): the deadline's wake-up, if made, is taken below
                    break;
                }
                r = Native.Read(fd.Value, &count, sizeof(ulong));
                if (r != -Errno.EINTR)
                    break;
            }
            if (r == -Errno.EAGAIN)
                return NotBlocking;
            NativeCallException.ThrowIfError(r, "read", _subject);
            AfterRead?.Invoke();
            // The deadline's wake-up, made after the read returned for a ring (or when the deadline passed before the
            // read), would reach the next waiter or a Drain as a ring nobody made: take it now, while Drains keep out.
            bool fired = false;
            if (timed)
            {
                timed = false;
                fired = !DeadlineWaker.Remove(this);
                if (fired)
                    count = SaturatingAdd(count, TakeLeft(fd)); // a peer's near-2^64 count must not wrap to "no ring"
            }
            if (cancellationToken.IsCancellationRequested || _disposed)
            {
                // The count may be the peer's ring alone (a cancellation seen here may never write its own: the
                // registration is disposed before its callback runs): give all of it back for the next waiter.
                // At worst that leaves our own wake-up behind as well, a spurious ring.
                AddBack(fd, count);
                cancellationToken.ThrowIfCancellationRequested();
                throw new ObjectDisposedException(_subject);
            }
            // The deadline's wake-up adds exactly 1, and it is in count once made: beyond it, a ring. (Callers re-check
            // shared memory after any return, so a ring taken by a timed-out wait would cost nothing either.)
            return count > (fired ? 1UL : 0UL) ? 1 : 0;
        }
        finally
        {
            if (timed)
                DeadlineWaker.Remove(this);
            registration.Dispose();
            Volatile.Write(ref _blockedOn, null);
            if (fdRef)
                fd.DangerousRelease();
            Volatile.Write(ref _busy, 0);
        }
    }

    private static ulong SaturatingAdd(ulong a, ulong b) => a + b < a ? ulong.MaxValue : a + b;

    /// <summary>What the counter of <paramref name="fd"/> holds now, taken without blocking (0 when nothing).</summary>
    private static ulong TakeLeft(FileDescriptor fd)
    {
        ulong count;
        // Without a no-wait read, a read on the blocking descriptor must find a count: look first. This thread is the
        // one reader here (Drains keep out while _blockedOn is set), so what the look sees, the read takes.
        if (!EventFdReads.NoWaitSupported && (Native.Poll2(fd.Value, 0, -1, 0, out int ready) != 0 || (ready & Native.ReadyFd) == 0))
            return 0;
        return EventFdReads.ReadNoWait(fd.Value, &count) == sizeof(ulong) ? count : 0;
    }

    /// <summary>The checks every wait makes first; then this thread is the one waiter (release <c>_busy</c> when done).</summary>
    private void Enter(CancellationToken cancellationToken)
    {
        if (MappingLease.HeldByCurrentThread > 0)
            throw new LeaseHeldException($"Waiting on '{_subject}'");
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Interlocked.Exchange(ref _busy, 1) != 0)
            throw new InvalidOperationException($"'{_subject}' already has a waiting thread; only one thread may wait on it at a time.");
    }

    /// <summary>
    /// A Drain of the descriptor a thread may block on in <see cref="ReadBlocking"/> begins: false when a thread
    /// blocks there (it takes the rings itself, and the Drain must not take the count that ends its read).
    /// Otherwise call <see cref="ExitDrain"/> after the read.
    /// </summary>
    internal bool TryEnterDrain()
    {
        Interlocked.Increment(ref _draining); // full fence before the read of _blockedOn
        if (Volatile.Read(ref _blockedOn) is null)
            return true;
        Interlocked.Decrement(ref _draining);
        return false;
    }

    /// <inheritdoc cref="TryEnterDrain"/>
    internal void ExitDrain() => Interlocked.Decrement(ref _draining);

    /// <summary>Test hook: runs in <see cref="ReadBlocking"/> once its read returned (or the deadline passed before it).</summary>
    internal Action? AfterRead;

    /// <summary>When <see cref="DeadlineWaker"/> is to wake this waiter (Stopwatch ticks; under its lock).</summary>
    internal long WakeAt;

    /// <summary>
    /// Gives a count taken by a cancelled or disposed wait back to <paramref name="fd"/>, never blocking: a count of 2
    /// or more as 2 (a ring as well as a wake-up, as the deadline check reads it), written as two 1s each made only
    /// where poll() finds room. The count itself means nothing more, and writing it back whole could wait for ever:
    /// a peer that wrote a near-2^64 value into our counter, with a wake-up added since, leaves no room for it.
    /// </summary>
    internal static void AddBack(FileDescriptor fd, ulong count)
    {
        for (ulong i = 0; i < Math.Min(count, 2); i++)
            WriteOne(fd);
    }

    /// <summary>Wakes the waiting thread (if any) so that it re-checks cancellation and disposal.</summary>
    internal void Wake()
    {
        // A thread blocked in read(): add to that counter. The reference keeps the descriptor (and its
        // number) from being closed and reused under the write; a closed one has nobody blocked on it.
        if (Volatile.Read(ref _blockedOn) is { } blocked)
            WriteOne(blocked);
        WriteOne(_wake);
    }

    /// <summary>
    /// Adds 1 to <paramref name="target"/>'s counter without ever blocking (a descriptor a reader blocks on is in
    /// blocking mode): only where poll() finds room, and a counter without room already reads as rung. False when
    /// nothing was written (no room, or the descriptor is closed: nobody can be waiting on it then).
    /// </summary>
    internal static bool WriteOne(FileDescriptor target)
    {
        if (!target.TryAddRef())
            return false;
        try
        {
            ulong one = 1;
            return Native.WriteIfRoom(target.Value, &one, sizeof(ulong)) == sizeof(ulong);
        }
        finally
        {
            target.DangerousRelease();
        }
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        Interlocked.MemoryBarrier();
        Wake();
        _wake.Dispose();
    }
}
