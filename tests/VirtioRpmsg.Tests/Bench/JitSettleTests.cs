using System.Diagnostics;
using VirtioRpmsg.Harness;

namespace VirtioRpmsg.Tests.Bench;

/// <summary>
/// A warm-up's wait for the compiler (<see cref="JitSettle"/>): settled only after the compiled-method count has not
/// moved for the quiet time, and at the limit even if it never stops moving. Driven by a fake count and fake times.
/// </summary>
public class JitSettleTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    private static long Ticks(double milliseconds) => (long)(milliseconds / 1000 * Stopwatch.Frequency);

    [Fact]
    public void CountUnchanged_SettledOnlyOnceTheQuietTimeHasPassed()
    {
        long count = 100;
        var settle = new JitSettle(() => count, Quiet, Limit);

        Assert.False(settle.IsSettled(Ticks(0)));
        Assert.False(settle.IsSettled(Ticks(249)));
        Assert.True(settle.IsSettled(Ticks(250)));
    }

    [Fact]
    public void ACompile_RestartsTheQuietTime()
    {
        long count = 100;
        var settle = new JitSettle(() => count, Quiet, Limit);
        Assert.False(settle.IsSettled(Ticks(0)));

        count++; // a method compiled (a tier-up) 200 ms in
        Assert.False(settle.IsSettled(Ticks(200)));
        Assert.False(settle.IsSettled(Ticks(300)));
        Assert.False(settle.IsSettled(Ticks(449)));
        Assert.True(settle.IsSettled(Ticks(450)));
    }

    [Fact]
    public void CountNeverQuiet_SettledAtTheLimit()
    {
        long count = 0;
        var settle = new JitSettle(() => ++count, Quiet, Limit);

        for (double ms = 0; ms < 5000; ms += 100)
            Assert.False(settle.IsSettled(Ticks(ms)), $"settled at {ms} ms while compiling");
        Assert.True(settle.IsSettled(Ticks(5000)));
    }

    [Fact]
    public void AnIdleMeasurement_CancelledDuringItsWaitForTheCompiler_ThrowsCancellation()
    {
        // Its wait for the compiler stops at the cancel; a cancelled measurement reports nothing.
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        Assert.Throws<OperationCanceledException>(() => EchoRuns.MeasureIdleCpu([Environment.ProcessId], cancel.Token));
    }
}
