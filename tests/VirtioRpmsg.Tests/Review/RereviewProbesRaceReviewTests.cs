using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Re-review (probes): RemoteProcessor.RegisterDriver snapshots the pending announcements under the device's lock and
/// probes them after its own lock. A DESTROY racing the registration must leave each announcement probed at most once,
/// removed exactly when probed, and never a channel of a withdrawn service.
/// </summary>
public class RereviewProbesRaceReviewTests
{
    private static readonly TimeSpan Bound = SimulatedRemoteRig.Bound;

    [Fact]
    public void LateRegistration_RacingTheRemotesDestroy_ProbedAtMostOnceAndRemovedWhenProbed()
    {
        using var rig = SimulatedRemoteRig.Create(echoDriver: false);
        var rp = rig.Processor;
        rp.Start();
        var host = rp.Device!;
        var remote = rig.Control.RemoteDevice!;
        int destroyed = 0;
        host.ServiceDestroyed += (_, _) => Interlocked.Increment(ref destroyed);
        // The remote's own echo service, unbound (no driver): the link is up and the remote's announcements flow.
        Assert.True(SpinWait.SpinUntil(() => host.UnboundServiceCount == 1, Bound), "the remote never announced its echo service");
        const int baseline = 1;
        int probed = 0; // about 5% of the rounds probe before the DESTROY lands (both orders are exercised)
        for (int i = 0; i < 150; i++)
        {
            string name = $"race-{i}";
            var ept = remote.CreateNamedEndpoint(name, 0x2000u + (uint)i, null);
            Assert.True(SpinWait.SpinUntil(() => host.UnboundServiceCount == baseline + 1, Bound), $"{name} was never announced");
            int probes = 0, removes = 0;
            var driver = new RpmsgServiceDriver(name)
            {
                Probe = _ => Interlocked.Increment(ref probes),
                Remove = _ => Interlocked.Increment(ref removes),
            };
            using var go = new Barrier(2);
            var register = Task.Run(() => { go.SignalAndWait(); rp.RegisterDriver(driver); });
            var destroy = Task.Run(() => { go.SignalAndWait(); ept.Dispose(); });
            Assert.True(Task.WaitAll([register, destroy], Bound), $"{name}: register or destroy hung");
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref destroyed) == i + 1, Bound), $"{name}: the DESTROY was never reported");

            Assert.True(probes <= 1, $"{name} probed {probes} times");
            Assert.Equal(probes, Volatile.Read(ref removes));
            Assert.DoesNotContain(host.Channels, c => c.Name == name);
            Assert.Equal(baseline, host.UnboundServiceCount);
            probed += probes;
        }
        rp.Stop();
    }
}
