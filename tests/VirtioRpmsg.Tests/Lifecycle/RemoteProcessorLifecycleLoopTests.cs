using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Platform;
using VirtioRpmsg.Tests.Simulation;
using Xunit.Abstractions;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// Seeds 002/003 (recovery repeats forever): 200 cycles that mix every way a session ends and a new one begins — the
/// remote dying (seen by the monitor), a reported crash (both recovered automatically), stop then start, detach then
/// attach — each followed by an echo. After every cycle there is one device, one channel, one driver probe not yet
/// removed, and the same endpoints on both sides; over the loop the process's descriptors, the shared file's
/// mappings and the threads stay put.
/// </summary>
[Collection(DescriptorCountCollection.Name)]
public class RemoteProcessorLifecycleLoopTests(ITestOutputHelper output)
{
    private const int Cycles = 200;
    private const int WarmUp = 8;
    private static readonly TimeSpan Bound = SimulatedRemoteRig.Bound;

    private readonly record struct Counts(int HostEndpoints, int HostChannels, int RemoteEndpoints, int RemoteChannels, int Descriptors, int ShmMappings, int Threads)
    {
        public override string ToString() =>
            $"host endpoints {HostEndpoints}, host channels {HostChannels}, remote endpoints {RemoteEndpoints}, remote channels {RemoteChannels}, fds {Descriptors}, shm mappings {ShmMappings}, threads {Threads}";
    }

    [Fact]
    public void CrashStopDetachCycles_TwoHundred_NothingGrows()
    {
        int probes = 0, removes = 0, added = 0, removed = 0;
        using var rig = SimulatedRemoteRig.Create(
            new RemoteProcessorOptions { RecoveryMode = RemoteRecoveryMode.Boot, AutoRecover = true, MonitorInterval = TimeSpan.FromMilliseconds(1) },
            new InProcessSimulatedOptions { Services = [SimulatedRemote.EchoServiceName] },
            echoDriver: false);
        var rp = rig.Processor;
        rp.RegisterDriver(new RpmsgServiceDriver(SimulatedRemote.EchoServiceName)
        {
            Probe = _ => Interlocked.Increment(ref probes),
            Remove = _ => Interlocked.Increment(ref removes),
        });
        rp.ChannelAdded += _ => Interlocked.Increment(ref added);
        rp.ChannelRemoved += _ => Interlocked.Increment(ref removed);
        using var recovered = new SemaphoreSlim(0);
        rp.RecoveryFinished += _ => recovered.Release();
        rp.Start();
        rig.EchoRoundTrip(-1);

        Counts before = default;
        for (int i = 0; i < WarmUp + Cycles; i++)
        {
            if (i == WarmUp)
                before = Take(rig);
            Cycle(rig, recovered, i);
            rig.EchoRoundTrip(i);
            string at = $"cycle {i} ({rp})";
            Assert.Single(rp.Devices);
            Assert.Single(rp.Device!.Channels);
            // Removal is raised on the transition thread before it returns; the probe and ChannelAdded on the dispatcher,
            // possibly just after WaitForChannel saw the channel: wait for them (bounded), then they must balance exactly.
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref probes) - Volatile.Read(ref removes) >= 1
                && Volatile.Read(ref added) - Volatile.Read(ref removed) >= 1, Bound), $"{at}: no probe or ChannelAdded");
            Assert.True(probes - removes == 1, $"{at}: {probes} probes, {removes} removes");
            Assert.True(added - removed == 1, $"{at}: {added} channels added, {removed} removed");
            Assert.Equal(0, rp.Device.Counters.NameServiceDuplicates);
        }
        var after = Take(rig);

        output.WriteLine($"before ({WarmUp} warm-up cycles): {before}");
        output.WriteLine($"after {Cycles} more cycles: {after}; probes {probes}, removes {removes}, crashes {rp.CrashCount}, recoveries {rp.RecoveryCount}, boots {rig.Control.BootCount}");
        string detail = $"before: {before}; after: {after}";
        Assert.Equal((before.HostEndpoints, before.HostChannels, before.RemoteEndpoints, before.RemoteChannels),
            (after.HostEndpoints, after.HostChannels, after.RemoteEndpoints, after.RemoteChannels));
        Assert.Equal(before.ShmMappings, after.ShmMappings);
        Assert.True(after.Descriptors <= before.Descriptors + 4, "descriptors grew: " + detail);
        Assert.True(after.Threads <= before.Threads + 4, "threads grew: " + detail);
        Assert.Equal(WarmUp + Cycles + 1, probes);
    }

    /// <summary>Ends the session one of four ways and begins the next.</summary>
    private static void Cycle(SimulatedRemoteRig rig, SemaphoreSlim recovered, int i)
    {
        var rp = rig.Processor;
        switch (i % 4)
        {
            case 0:
                rig.Control.InjectCrash();
                Assert.True(recovered.Wait(Bound), $"cycle {i}: no recovery ({rp}, last crash: {rp.LastCrashReason})");
                break;
            case 1:
                rp.ReportCrash("cycle " + i);
                Assert.True(recovered.Wait(Bound), $"cycle {i}: no recovery ({rp}, last crash: {rp.LastCrashReason})");
                break;
            case 2:
                rp.Stop();
                rp.Start();
                break;
            default:
                rp.Detach();
                rp.Attach();
                break;
        }
    }

    private static Counts Take(SimulatedRemoteRig rig)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var snapshot = RemoteProcessorRecoveryLeakTests.Snapshot(rig.ShmPath);
        var host = rig.Processor.Device!;
        var remote = rig.Control.RemoteDevice!;
        return new Counts(host.Endpoints.Count, host.Channels.Count, remote.Endpoints.Count, remote.Channels.Count,
            snapshot.Descriptors, snapshot.OwnMappings,
            System.Diagnostics.Process.GetCurrentProcess().Threads.Count - ThreadPool.ThreadCount);
    }
}
