using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The pause between two looks of a spin that waits for the peer: the dispatcher thread's spin budget
/// (<see cref="RpmsgDispatcherThread"/>), a reader polling the ring (<see cref="RpmsgReaderSpin"/>), and the
/// caller-polled wait of <c>rpmsg ping</c>.
/// </summary>
/// <remarks>
/// The first <see cref="PauseFreeLooks"/> looks follow each other without a pause. In a busy exchange the next
/// message lands within them (a dispatcher's look costs tens of nanoseconds and a reader's poll about 0.1 us, a round
/// trip about a microsecond), and every pause
/// is time a landed message waits unseen: on the 2-vCPU VM <c>Thread.SpinWait(1)</c> takes about 45 ns and
/// <c>SpinWait(8)</c> about 330 ns, and the dispatcher's former <c>SpinWait(8)</c> between looks cost the
/// busy-poll echo a fifth of its round trip (docs/benchmarks-notes.md, eleventh round). A wait that lasts longer
/// pauses once per look, which leaves an SMT sibling its share of the core.
/// </remarks>
internal static class RpmsgSpinPause
{
    /// <summary>Looks without a pause before each look pauses (a few microseconds of a dispatcher's spinning, tens of a reader's).</summary>
    internal const int PauseFreeLooks = 256;

    /// <summary>Pauses (briefly) after the <paramref name="looks"/>-th look, unless it is among the first <see cref="PauseFreeLooks"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void After(int looks)
    {
        if (looks > PauseFreeLooks)
            Thread.SpinWait(1);
    }
}
