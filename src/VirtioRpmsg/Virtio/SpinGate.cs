using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Virtio;

/// <summary>
/// A minimal test-and-set spin lock for critical sections of a bounded handful of memory stores
/// (no calls out, no allocation, no blocking). Waiters spin, then yield the core (never Sleep(1)),
/// so a preempted holder gets to run; nothing ever parks in the kernel waiting for it.
/// It is a mutable struct: keep it in a field and never copy it.
/// </summary>
internal struct SpinGate
{
    private int _held;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Enter()
    {
        // Interlocked.CompareExchange is a full fence: the critical section cannot move above it.
        if (Interlocked.CompareExchange(ref _held, 1, 0) != 0)
            EnterContended();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Exit() => Volatile.Write(ref _held, 0); // release: the critical section's stores are visible first

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void EnterContended()
    {
        var spin = new SpinWait();
        do
        {
            // sleep1Threshold -1: back off with Thread.Yield / Sleep(0) only.
            spin.SpinOnce(sleep1Threshold: -1);
        }
        while (Volatile.Read(ref _held) != 0 || Interlocked.CompareExchange(ref _held, 1, 0) != 0);
    }
}
