using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// Seed 003: recovery reused stale objects and duplicated channels. Here, after every recovery,
/// every announced channel exists exactly once and each driver saw exactly one probe and one remove
/// per cycle — drivers registered once on the <see cref="RemoteProcessor"/> survive recovery.
/// </summary>
public class RemoteProcessorChannelTests
{
    private const int Cycles = 150;
    private static readonly TimeSpan Bound = SimulatedRemoteRig.Bound;
    private static readonly string[] Services = [SimulatedRemote.EchoServiceName, "rpmsg-tty", "rpmsg-sensor"];

    [Theory]
    [InlineData(RemoteRecoveryMode.Boot)]
    [InlineData(RemoteRecoveryMode.Attach)]
    public void Recover_EveryCycle_EachChannelOnceOneProbeOneRemove(RemoteRecoveryMode mode)
    {
        using var rig = SimulatedRemoteRig.CreateAutoRecovering(mode, Services, echoDriver: false);
        var rp = rig.Processor;
        var probes = new int[Services.Length];
        var removes = new int[Services.Length];
        var probedChannels = new HashSet<RpmsgChannel>(ReferenceEqualityComparer.Instance);
        for (int s = 0; s < Services.Length; s++)
        {
            int index = s;
            rp.RegisterDriver(new RpmsgServiceDriver(Services[s])
            {
                Probe = c =>
                {
                    Interlocked.Increment(ref probes[index]);
                    lock (probedChannels)
                        Assert.True(probedChannels.Add(c), "a channel object was probed twice");
                },
                Remove = _ => Interlocked.Increment(ref removes[index]),
            });
        }
        using var recovered = new SemaphoreSlim(0);
        rp.RecoveryFinished += _ => recovered.Release();

        rp.Start();
        AssertChannels(rp, probes, removes, cycle: 0);
        for (int cycle = 1; cycle <= Cycles; cycle++)
        {
            if (cycle % 2 == 0)
                rig.Control.InjectCrash();
            else
                rp.ReportCrash("cycle " + cycle);
            Assert.True(recovered.Wait(Bound), $"cycle {cycle}: no recovery ({rp}, last crash: {rp.LastCrashReason})");
            AssertChannels(rp, probes, removes, cycle);
        }

        rp.Stop();
        Assert.Equal(Enumerable.Repeat(Cycles + 1, Services.Length), probes);
        Assert.Equal(Enumerable.Repeat(Cycles + 1, Services.Length), removes);
    }

    [Fact]
    public void RegisterDriver_LateAndACrashDuringItsProbe_RemoveAfterProbeAndAddedBeforeRemoved()
    {
        using var rig = SimulatedRemoteRig.Create(remote: new InProcessSimulatedOptions { Services = ["rpmsg-late"] }, echoDriver: false);
        var rp = rig.Processor;
        var seen = new List<string>();
        void Record(string what)
        {
            lock (seen)
                seen.Add(what);
        }
        rp.ChannelAdded += _ => Record("ChannelAdded");
        rp.ChannelRemoved += _ => Record("ChannelRemoved");
        rp.Start();
        var device = rp.Device!;
        Assert.True(SpinWait.SpinUntil(() => device.UnboundServiceCount == 1, Bound), "the remote never announced rpmsg-late");
        using var inProbe = new ManualResetEventSlim();
        using var stopWaitsForProbe = new ManualResetEventSlim();
        using var removed = new ManualResetEventSlim();
        device.WaitingForProbe = stopWaitsForProbe.Set;

        // Registered after the announcement: the probe runs on this application thread, not the dispatcher.
        var register = Task.Run(() => rp.RegisterDriver(new RpmsgServiceDriver("rpmsg-late")
        {
            Probe = _ =>
            {
                Record("Probe");
                inProbe.Set();
                // Until the crash's teardown either waits for this probe or (wrongly) runs Remove under it.
                WaitHandle.WaitAny([stopWaitsForProbe.WaitHandle, removed.WaitHandle], Bound);
                Record("Probe returns");
            },
            Remove = _ =>
            {
                Record("Remove");
                removed.Set();
            },
        }));
        Assert.True(inProbe.Wait(Bound));
        var crash = Task.Run(() => rp.ReportCrash("crash while a late driver probes"));
        Assert.True(register.Wait(Bound), "RegisterDriver did not return");
        Assert.True(crash.Wait(Bound), "the crash did not return");

        Assert.Equal(RemoteProcessorState.Crashed, rp.State);
        lock (seen)
            Assert.Equal("Probe, Probe returns, ChannelAdded, Remove, ChannelRemoved", string.Join(", ", seen));
    }

    private static void AssertChannels(RemoteProcessor rp, int[] probes, int[] removes, int cycle)
    {
        // Channels appear as the remote announces them; wait for all three probes of this cycle.
        Assert.True(SpinWait.SpinUntil(() => probes.All(p => Volatile.Read(ref p) >= cycle + 1), Bound),
            $"cycle {cycle}: probes {string.Join(",", probes)}");
        var device = rp.Device!;
        var channels = device.Channels;
        foreach (var name in Services)
            Assert.Single(channels, c => c.Name == name);
        Assert.Equal(Services.Length, channels.Count);
        Assert.All(channels, c => Assert.Same(device, c.Device));
        Assert.Equal(0, device.Counters.NameServiceDuplicates);
        for (int s = 0; s < Services.Length; s++)
        {
            Assert.Equal(cycle + 1, Volatile.Read(ref probes[s]));
            Assert.Equal(cycle, Volatile.Read(ref removes[s]));
        }
    }
}
