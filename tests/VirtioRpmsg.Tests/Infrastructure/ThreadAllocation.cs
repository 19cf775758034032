namespace VirtioRpmsg.Tests.Infrastructure;

/// <summary>
/// Bytes a loop allocates on the calling thread, for "0 B per message" tests. A warm-up first (JIT, tiering, pools),
/// then several measured rounds; the verdict is the round with the fewest bytes. An allocation per message (or per
/// hundred) shows in every round; a one-off on this thread, which the runtime itself sometimes charges (a class's
/// statics initialised by a method tiered up mid-run, the runtime's own GetAllocatedBytesForCurrentThread tests flake
/// the same way), shows in one. <see cref="Rounds"/> names all of them for the failure message.
/// </summary>
internal readonly record struct ThreadAllocation(long[] Rounds)
{
    /// <summary>The bytes of the round that allocated least: the verdict.</summary>
    public long Fewest => Rounds.Min();

    /// <summary>Asserts that some round allocated nothing at all, naming every round otherwise.</summary>
    public void AssertNone() => Assert.True(Fewest == 0, ToString());

    /// <summary>Runs <paramref name="iteration"/> <paramref name="warmup"/> times, calls <paramref name="afterWarmup"/>, then measures.</summary>
    public static ThreadAllocation Measure(int warmup, int measuredPerRound, Action iteration, Action? afterWarmup = null)
    {
        for (int i = 0; i < warmup; i++)
            iteration();
        afterWarmup?.Invoke();
        var bytes = new long[3];
        for (int round = 0; round < bytes.Length; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < measuredPerRound; i++)
                iteration();
            bytes[round] = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        return new ThreadAllocation(bytes);
    }

    public override string ToString() => $"{Fewest} bytes in the best round (rounds: {string.Join(", ", Rounds)})";
}
