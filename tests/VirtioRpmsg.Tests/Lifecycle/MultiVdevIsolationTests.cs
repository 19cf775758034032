using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// Issue 16 item 2: two remotes in one process, each with two vdevs of 128 endpoints, all talking at
/// once with no cross-talk; one vdev broken and reset (three times, seeds 002/003: recovery must
/// repeat) while the other vdev of its remote and the other remote keep working.
/// </summary>
public class MultiVdevIsolationTests
{
    private const int Remotes = 2, Vdevs = 2, Rounds = 20;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private sealed class HostSide(MultiVdevRemote remote, RpmsgLink link)
    {
        public MultiVdevRemote Remote { get; } = remote;
        public RpmsgLink Link { get; } = link;
        public readonly long[][] Received = [new long[MultiVdevRemote.Endpoints], new long[MultiVdevRemote.Endpoints]];
        public readonly RpmsgEndpoint?[][] Endpoints = [new RpmsgEndpoint?[MultiVdevRemote.Endpoints], new RpmsgEndpoint?[MultiVdevRemote.Endpoints]];
    }

    [Fact]
    public void TwoRemotesTwoVdevs128Endpoints_AllAtOnce_NoCrossTalk_OneVdevResetThreeTimes_OthersUnaffected()
    {
        var remotes = new List<MultiVdevRemote>();
        var hosts = new List<HostSide>();
        var crossTalk = new List<string>();
        try
        {
            for (int r = 0; r < Remotes; r++)
            {
                var remote = MultiVdevRemote.Create(r);
                remotes.Add(remote);
                var open = RpmsgLink.OpenAsync(remote.HostDescription, new RpmsgLinkOptions { Name = $"host{r}", Timeout = Bound });
                remote.StartAll();
                Assert.True(open.Wait(Bound), $"remote {r}: the link did not open");
                var host = new HostSide(remote, open.Result);
                hosts.Add(host);
                Assert.Equal(Vdevs, host.Link.Devices.Count);
                for (int v = 0; v < Vdevs; v++)
                    CreateHostEndpoints(host, v, crossTalk);
            }

            // Every endpoint of every vdev of both remotes, at once.
            RunTraffic(hosts, [(0, 0), (0, 1), (1, 0), (1, 1)], seqBase: 0);
            AssertNoCrossTalk(remotes, crossTalk);
            AssertEveryEndpointGot(hosts, [(0, 0), (0, 1), (1, 0), (1, 1)], Rounds);

            var victim = hosts[0];
            var survivors = new[] { (0, 0), (1, 0), (1, 1) };
            var survivorDevices = survivors.Select(s => hosts[s.Item1].Link.Devices[s.Item2]).ToArray();
            for (int crash = 1; crash <= 3; crash++)
            {
                var broken = victim.Link.Devices[1];
                victim.Remote.Crash(1);
                Assert.True(SpinWait.SpinUntil(() => broken.State == RpmsgDeviceState.Broken, Bound), $"crash {crash}: host vdev 1 of remote 0 is {broken.State}");
                Assert.Equal(FaultRule.DeviceNeedsReset, broken.Fault!.Rule);

                // While it is down, the others talk as before, on the very same devices.
                RunTraffic(hosts, survivors, seqBase: crash * 1000);
                Assert.Equal(survivorDevices, survivors.Select(s => hosts[s.Item1].Link.Devices[s.Item2]).ToArray());
                Assert.All(survivorDevices, d => Assert.Equal(RpmsgDeviceState.Running, d.State));

                var recovery = victim.Link.RecoverVdevAsync(1);
                victim.Remote.Restart(1);
                Assert.True(recovery.Wait(Bound), $"crash {crash}: vdev 1 of remote 0 did not come back");
                Assert.NotSame(broken, recovery.Result);
                Assert.Same(recovery.Result, victim.Link.Devices[1]);
                Array.Clear(victim.Received[1]);
                CreateHostEndpoints(victim, 1, crossTalk);

                RunTraffic(hosts, [(0, 0), (0, 1), (1, 0), (1, 1)], seqBase: crash * 1000 + 500);
                AssertNoCrossTalk(remotes, crossTalk);
                AssertEveryEndpointGot(hosts, [(0, 1)], Rounds);
            }
            Assert.All(survivorDevices, d => Assert.Equal(0, d.Counters.Errors));
            Assert.All(survivorDevices, d => Assert.Equal(0, d.Counters.Dropped));
            // Remote 1 never noticed: its devices are the ones it opened with.
            Assert.All(hosts[1].Link.Devices, d => Assert.Null(d.Fault));
        }
        finally
        {
            foreach (var host in hosts)
                host.Link.Dispose();
            foreach (var remote in remotes)
                remote.Dispose();
        }
    }

    [Fact]
    public void RecoverVdev_ZeroCopyBufferOfTheOldDeviceStillOpen_TimesOutNamingIt_ThenRecoversOnceItEnds()
    {
        using var remote = MultiVdevRemote.Create(0);
        var open = RpmsgLink.OpenAsync(remote.HostDescription, new RpmsgLinkOptions { Name = "host", Timeout = Bound, ZeroCopyDrainTimeout = TimeSpan.FromMilliseconds(200) });
        remote.StartAll();
        Assert.True(open.Wait(Bound), "the link did not open");
        using var link = open.Result;
        var old = link.Devices[1];
        var ept = old.CreateEndpoint(MultiVdevRemote.FirstAddress, (_, _, _) => { });
        // An application thread fills a zero-copy buffer of vdev 1 and is still at it when the vdev is reset.
        using var holder = new Rpmsg.TxBufferHolder(ept, Bound);
        remote.Crash(1);
        Assert.True(SpinWait.SpinUntil(() => old.State == RpmsgDeviceState.Broken, Bound), $"vdev 1 is {old.State}");

        // A fresh device would hand that buffer out again: the recovery waits for it, then refuses, naming why.
        var refused = Assert.Throws<AggregateException>(() => link.RecoverVdevAsync(1).Wait(Bound)).InnerException;
        Assert.IsType<TimeoutException>(refused);
        Assert.Contains("1 zero-copy buffer(s)", refused!.Message, StringComparison.Ordinal);
        Assert.Same(old, link.Devices[1]);

        holder.Release();
        var recovery = link.RecoverVdevAsync(1);
        remote.Restart(1);
        Assert.True(recovery.Wait(Bound), "vdev 1 did not come back");
        Assert.Equal(RpmsgDeviceState.Running, recovery.Result.State);
        Assert.NotSame(old, recovery.Result);
    }

    private static void CreateHostEndpoints(HostSide host, int vdev, List<string> crossTalk)
    {
        var device = host.Link.Devices[vdev];
        int remote = host.Remote.Id;
        for (int k = 0; k < MultiVdevRemote.Endpoints; k++)
        {
            int endpoint = k;
            host.Endpoints[vdev][k] = device.CreateEndpoint(MultiVdevRemote.FirstAddress + (uint)k, (_, source, payload) =>
            {
                string where = $"host {remote} vdev {vdev} endpoint {endpoint}";
                string? wrong = MultiVdevRemote.Misrouted(payload, remote, vdev, endpoint, where)
                    ?? (source == MultiVdevRemote.FirstAddress + (uint)endpoint ? null : $"{where}: reply from 0x{source:X}");
                if (wrong is not null)
                {
                    lock (crossTalk)
                        crossTalk.Add(wrong);
                    return;
                }
                Interlocked.Increment(ref host.Received[vdev][endpoint]);
            });
        }
    }

    /// <summary>One thread per (remote, vdev); each round every endpoint sends one message, then waits (bounded) for all 128 echoes.</summary>
    private static void RunTraffic(List<HostSide> hosts, (int Remote, int Vdev)[] targets, int seqBase)
    {
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var threads = targets.Select(t => new Thread(() =>
        {
            try
            {
                Talk(hosts[t.Remote], t.Vdev, seqBase);
            }
            catch (Exception e)
            {
                failures.Enqueue(e);
            }
        })
        { IsBackground = true, Name = $"talk-{t.Remote}-{t.Vdev}" }).ToArray();
        foreach (var thread in threads)
            thread.Start();
        foreach (var thread in threads)
            Assert.True(thread.Join(Bound + Bound), $"{thread.Name} did not finish");
        Assert.Empty(failures);

        static void Talk(HostSide host, int vdev, int seqBase)
        {
            var received = host.Received[vdev];
            long start = received.Sum();
            for (int round = 0; round < Rounds; round++)
            {
                for (int k = 0; k < MultiVdevRemote.Endpoints; k++)
                    host.Endpoints[vdev][k]!.SendTo(MultiVdevRemote.FirstAddress + (uint)k, MultiVdevRemote.Payload(host.Remote.Id, vdev, k, seqBase + round));
                long expected = start + (long)(round + 1) * MultiVdevRemote.Endpoints;
                if (!SpinWait.SpinUntil(() => received.Sum(c => Interlocked.Read(ref c)) >= expected, Bound))
                    throw new TimeoutException($"remote {host.Remote.Id} vdev {vdev}: round {round} echoes missing ({received.Sum()} of {expected})");
            }
        }
    }

    private static void AssertNoCrossTalk(List<MultiVdevRemote> remotes, List<string> crossTalk)
    {
        lock (crossTalk)
            Assert.Empty(crossTalk);
        Assert.All(remotes, r => Assert.Empty(r.CrossTalk));
    }

    private static void AssertEveryEndpointGot(List<HostSide> hosts, (int Remote, int Vdev)[] targets, long atLeast)
    {
        foreach (var (r, v) in targets)
        {
            for (int k = 0; k < MultiVdevRemote.Endpoints; k++)
                Assert.True(Interlocked.Read(ref hosts[r].Received[v][k]) >= atLeast, $"remote {r} vdev {v} endpoint {k}: {hosts[r].Received[v][k]} echoes");
        }
    }
}
