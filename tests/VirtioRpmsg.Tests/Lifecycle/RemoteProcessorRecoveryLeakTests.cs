using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Platform;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// Seed 002: recovery worked once and failed the second time with out-of-memory. Here a thousand
/// crash-and-recover cycles run in each recovery mode, with an echo after every recovery; afterwards
/// descriptors, mappings, threads and the managed heap are back within a small constant of the start.
/// Runs alone (non-parallel collection) so that nothing else moves the counts.
/// </summary>
[Collection(DescriptorCountCollection.Name)]
public class RemoteProcessorRecoveryLeakTests
{
    private const int Cycles = 1000;
    private const int WarmUp = 20;
    private static readonly TimeSpan Bound = SimulatedRemoteRig.Bound;

    internal readonly record struct ResourceSnapshot(int Descriptors, int Mappings, int OwnMappings, int Threads, long Heap)
    {
        public override string ToString() => $"fds {Descriptors}, maps {Mappings} ({OwnMappings} of the shm file), threads {Threads}, heap {Heap / 1024} KiB";
    }

    [Theory]
    [InlineData(RemoteRecoveryMode.Boot)]
    [InlineData(RemoteRecoveryMode.Attach)]
    public void CrashAndRecover_ThousandCycles_EchoEveryTimeAndNothingLeaks(RemoteRecoveryMode mode)
    {
        using var rig = SimulatedRemoteRig.CreateAutoRecovering(mode);
        var rp = rig.Processor;
        using var recovered = new SemaphoreSlim(0);
        rp.RecoveryFinished += finished =>
        {
            Assert.Equal(mode, finished);
            recovered.Release();
        };
        rp.Start();
        rig.EchoRoundTrip(-1);

        for (int i = 0; i < WarmUp; i++)
            Cycle(rig, recovered, i);
        var before = Snapshot(rig.ShmPath);
        for (int i = 0; i < Cycles; i++)
            Cycle(rig, recovered, WarmUp + i);
        var after = Snapshot(rig.ShmPath);

        Assert.Equal(WarmUp + Cycles, rp.CrashCount);
        Assert.Equal(WarmUp + Cycles, rp.RecoveryCount);
        Assert.Equal(RemoteProcessorState.Running, rp.State);
        string detail = $"before: {before}; after: {after}";
        // A leak of one object per cycle would show as 1000 or more; these bounds allow runtime noise only.
        Assert.True(after.Descriptors <= before.Descriptors + 4, "descriptors grew: " + detail);
        // The runtime maps code and heap as it tiers up; the shared file's own mappings must match exactly.
        Assert.True(before.OwnMappings > 0, "the shared file is not mapped: " + detail);
        Assert.Equal(before.OwnMappings, after.OwnMappings);
        Assert.True(after.Mappings <= before.Mappings + 64, "mappings grew: " + detail);
        Assert.True(after.Threads <= before.Threads + 4, "threads grew: " + detail);
        Assert.True(after.Heap <= before.Heap + 2 * 1024 * 1024, "managed heap grew: " + detail);
    }

    [Fact]
    public void Recover_ReaderWaitedWithAnAppToken_NoRegistrationLeftOnTheToken()
    {
        using var rig = SimulatedRemoteRig.CreateAutoRecovering(RemoteRecoveryMode.Boot);
        var rp = rig.Processor;
        using var recovered = new SemaphoreSlim(0);
        rp.RecoveryFinished += _ => recovered.Release();
        using var app = new CancellationTokenSource(); // the application's long-lived token (its shutdown, say)
        rp.Start();
        var buffer = new byte[512];
        int afterFirst = -1;
        const int Cycles = 6;
        for (int cycle = 0; cycle <= Cycles; cycle++)
        {
            var channel = rp.WaitForChannel(SimulatedRemote.EchoServiceName, Bound);
            // Idle receives with the app token until one has waited holding the doorbell (lent by the idle dispatcher).
            var handOver = channel.Device.Rx.HandOver;
            var deadline = VirtioRpmsg.Platform.Deadline.Within(Bound);
            while (handOver.Takes == 0)
            {
                Assert.False(deadline.IsExpired, $"cycle {cycle}: no reader ever held the doorbell");
                Assert.False(channel.Endpoint.TryReceive(buffer, TimeSpan.FromMilliseconds(100), out _, app.Token));
            }
            if (cycle == 0)
                afterFirst = Registrations(app);
            rp.ReportCrash("cycle " + cycle);
            Assert.True(recovered.Wait(Bound), $"cycle {cycle}: no recovery ({rp})");
        }
        int after = Registrations(app);
        // A device that stopped leaves nothing registered on the caller's token: no growth per recovery.
        Assert.True(after <= 1 && afterFirst <= 1, $"callbacks registered on the application's token: {afterFirst} after the first cycle, {after} after {Cycles} recoveries");
    }

    /// <summary>Callbacks registered on <paramref name="cts"/> (the runtime's private list: no public count exists).</summary>
    private static int Registrations(CancellationTokenSource cts)
    {
        const System.Reflection.BindingFlags Flags = System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance;
        var field = typeof(CancellationTokenSource).GetField("_registrations", Flags);
        Assert.True(field is not null, "CancellationTokenSource._registrations not found: the runtime changed, update this count");
        var registrations = field.GetValue(cts);
        if (registrations is null)
            return 0;
        var node = registrations.GetType().GetField("Callbacks")!.GetValue(registrations);
        int n = 0;
        while (node is not null)
        {
            n++;
            node = node.GetType().GetField("Next")!.GetValue(node);
        }
        return n;
    }

    /// <summary>One crash (alternately the remote dying abruptly, seen by the monitor, and an API report), recovery, echo.</summary>
    private static void Cycle(SimulatedRemoteRig rig, SemaphoreSlim recovered, int i)
    {
        if (i % 2 == 0)
            rig.Control.InjectCrash();
        else
            rig.Processor.ReportCrash("cycle " + i);
        Assert.True(recovered.Wait(Bound), $"cycle {i}: no recovery ({rig.Processor}, last crash: {rig.Processor.LastCrashReason})");
        rig.EchoRoundTrip(i);
    }

    /// <summary>Descriptors, mappings (all, and of <paramref name="shmPath"/>), threads and the heap after a full collection.</summary>
    internal static ResourceSnapshot Snapshot(string shmPath)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        int threads = File.ReadLines("/proc/self/status")
            .Where(l => l.StartsWith("Threads:", StringComparison.Ordinal))
            .Select(l => int.Parse(l.AsSpan("Threads:".Length).Trim(), System.Globalization.CultureInfo.InvariantCulture))
            .Single();
        return new ResourceSnapshot(
            Memory.ProcessResources.OpenDescriptors(),
            File.ReadLines("/proc/self/maps").Count(),
            File.ReadLines("/proc/self/maps").Count(l => l.Contains(shmPath, StringComparison.Ordinal)),
            threads,
            GC.GetTotalMemory(forceFullCollection: true));
    }
}
