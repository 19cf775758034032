using Microsoft.Extensions.Logging;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// Review (recovery2, item 3): the application holds a zero-copy tx buffer (a mapping lease) of the crashed session past
/// every <see cref="RemoteProcessorOptions.UnmapDrainTimeout"/>. The automatic recovery used to fail on it once and never
/// run again: the remote stayed Crashed after the lease ended, until the application called Recover. Now it waits for the
/// lease (blocking no thread: the monitor looks each tick) and starts by itself once it ended; a Recover meanwhile says
/// which region is leased and what to do, and may be repeated. Several cycles each.
/// </summary>
public class RemoteProcessorLeaseRecoveryTests
{
    private static readonly TimeSpan Bound = SimulatedRemoteRig.Bound;
    private const int Cycles = 3;

    [Fact]
    public void AutoRecover_LeaseOutlivesTheDrains_RecoversByItselfOnceReleased_EveryCycle()
    {
        var log = new LeaseLog();
        using var rig = SimulatedRemoteRig.Create(new RemoteProcessorOptions
        {
            AutoRecover = true,
            MonitorInterval = TimeSpan.FromMilliseconds(1),
            UnmapDrainTimeout = TimeSpan.FromMilliseconds(100),
            Logger = log,
        });
        var rp = rig.Processor;
        using var recovered = new SemaphoreSlim(0);
        rp.RecoveryFinished += _ => recovered.Release();
        rp.Start();
        for (int cycle = 0; cycle < Cycles; cycle++)
        {
            using var release = new ManualResetEventSlim();
            var holder = SimulatedRemoteRig.HoldTxBuffer(rp.WaitForChannel(SimulatedRemote.EchoServiceName, Bound), release);
            int before = log.LeaseEntries;
            try
            {
                rp.ReportCrash("crash while a tx buffer is held, cycle " + cycle);

                // The crash's teardown logs the region it could not unmap; the automatic recovery then at least one more
                // entry about the lease (it waits for it; it used to fail on it).
                Assert.True(SpinWait.SpinUntil(() => log.LeaseEntries >= before + 2, Bound), $"cycle {cycle}: the automatic recovery never looked ({rp})");
                Assert.Equal(RemoteProcessorState.Crashed, rp.State);
                Assert.Equal(cycle, rp.RecoveryCount);
            }
            finally
            {
                release.Set();
            }
            Assert.True(holder.Join(Bound), "the holder did not end");

            Assert.True(recovered.Wait(Bound), $"cycle {cycle}: the lease ended, yet the remote was not recovered ({rp})");
            Assert.Equal(RemoteProcessorState.Running, rp.State);
            rig.EchoRoundTrip(cycle);
        }
        Assert.Equal((Cycles, Cycles), (rp.CrashCount, rp.RecoveryCount));
    }

    [Fact]
    public void Recover_WhileTheLeaseLives_TimeoutNamesTheRegionAndWhatToDo_RepeatedRecoversWorkOnceReleased()
    {
        using var rig = SimulatedRemoteRig.Create(new RemoteProcessorOptions { UnmapDrainTimeout = TimeSpan.FromMilliseconds(100) });
        var rp = rig.Processor;
        rp.Start();
        for (int cycle = 0; cycle < Cycles; cycle++)
        {
            using var release = new ManualResetEventSlim();
            var holder = SimulatedRemoteRig.HoldTxBuffer(rp.WaitForChannel(SimulatedRemote.EchoServiceName, Bound), release);
            try
            {
                rp.ReportCrash("crash while a tx buffer is held, cycle " + cycle);

                for (int attempt = 0; attempt < 2; attempt++)
                {
                    var e = Assert.Throws<TimeoutException>(rp.Recover);
                    Assert.Contains($"region '{rig.Region.Name}'", e.Message, StringComparison.Ordinal);
                    Assert.Contains("RpmsgTxBuffer", e.Message, StringComparison.Ordinal);
                    Assert.Equal(RemoteProcessorState.Crashed, rp.State);
                    Assert.Empty(rp.Devices);
                }
            }
            finally
            {
                release.Set(); // also on a failure: the rig's Dispose would wait for the lease and hide it
            }
            Assert.True(holder.Join(Bound), "the holder did not end");

            rp.Recover();

            Assert.Equal(RemoteProcessorState.Running, rp.State);
            rig.EchoRoundTrip(cycle);
        }
        Assert.Equal((Cycles, Cycles), (rp.CrashCount, rp.RecoveryCount));
    }

    /// <summary>Counts the log entries that speak of a lease (in the message or its exception).</summary>
    private sealed class LeaseLog : ILogger
    {
        private int _entries;

        public int LeaseEntries => Volatile.Read(ref _entries);

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            string line = formatter(state, exception) + " | " + exception?.Message;
            if (logLevel >= LogLevel.Warning && line.Contains("lease", StringComparison.OrdinalIgnoreCase))
                Interlocked.Increment(ref _entries);
        }
    }
}
