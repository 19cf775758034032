using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Virtio;

/// <summary>
/// The one way to share a single-owner queue (<see cref="VirtqueueDriver"/> or
/// <see cref="VirtqueueDevice"/>) between threads: every call goes through <see cref="Enter"/>, which
/// serializes callers with a non-sleeping spin gate, and the returned scope gives access to the queue
/// until it is disposed. State kept next to the queue (a free list, per-head records) can be guarded
/// by the same scope, so each queue has exactly one serialization mechanism.
/// </summary>
/// <remarks>
/// <para>The gate never allocates and never blocks in the kernel: a waiter spins, then yields its core
/// (<c>Thread.Yield</c>/<c>Sleep(0)</c>, never <c>Sleep(1)</c>), so a preempted holder gets to run. That
/// keeps the notify/kick path usable from a thread that must not sleep (seed 001: a mutex there
/// deadlocked such a sender).</para>
/// <para>Hold a scope for a bounded handful of queue calls only: no waiting, no callbacks, no doorbell.
/// Ring the doorbell after the scope is disposed, when <see cref="VirtqueueDriver.KickPrepare"/> or
/// <see cref="VirtqueueDevice.NotifyPrepare"/> said to. The gate is not reentrant: entering it again
/// on the thread that holds it spins forever.</para>
/// </remarks>
/// <typeparam name="TQueue"><see cref="VirtqueueDriver"/> or <see cref="VirtqueueDevice"/>.</typeparam>
public sealed class SynchronizedVirtqueue<TQueue> where TQueue : class
{
    private readonly TQueue _queue;
    private SpinGate _gate;

    /// <summary>Wraps <paramref name="queue"/>; from now on every call to it should go through <see cref="Enter"/>.</summary>
    public SynchronizedVirtqueue(TQueue queue)
    {
        ArgumentNullException.ThrowIfNull(queue);
        _queue = queue;
    }

    /// <summary>
    /// The queue, for reads that are safe without the gate (name, ring, <c>IsBroken</c>, <c>Fault</c>,
    /// error counters), for set-up before the queue is shared, and for state that only one thread ever touches
    /// (the rx ring's consumer and its <c>FollowsEvent</c>). Every other call goes through <see cref="Enter"/>.
    /// </summary>
    public TQueue Unsynchronized => _queue;

    /// <summary>Waits (spinning, never sleeping) until no other thread holds the queue, then holds it until the scope is disposed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Scope Enter()
    {
        _gate.Enter();
        return new Scope(this);
    }

    /// <summary>Exclusive access to the queue; dispose it exactly once (with <c>using</c>).</summary>
    public readonly ref struct Scope
    {
        private readonly SynchronizedVirtqueue<TQueue> _owner;

        internal Scope(SynchronizedVirtqueue<TQueue> owner) => _owner = owner;

        /// <summary>The queue, held by this thread until <see cref="Dispose"/>.</summary>
        public TQueue Queue => _owner._queue;

        /// <summary>Lets the next thread in (release: every store made under the scope is visible to it first).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Dispose() => _owner._gate.Exit();
    }

    /// <summary>The wrapped queue, for logs.</summary>
    public override string ToString() => $"synchronized {_queue}";
}
