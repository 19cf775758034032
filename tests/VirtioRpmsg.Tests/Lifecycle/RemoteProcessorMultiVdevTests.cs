using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Platform;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// Issue 16 item 2, the RemoteProcessor part: one RemoteProcessor over a remote with two vdevs brings up a
/// host device per vdev (own rings, pool, doorbell), both carry traffic, and a crash of the remote or of
/// either vdev recovers the whole remote: every vdev gets a fresh device, again and again (seeds 002/003),
/// with no stale object reused, no duplicated channel and nothing leaked. Counts descriptors, so it runs
/// alone (non-parallel collection).
/// </summary>
[Collection(DescriptorCountCollection.Name)]
public class RemoteProcessorMultiVdevTests
{
    private const int Vdevs = 2, Rounds = 5, LeakCycles = 20;
    // Above the dynamic range the service channel's endpoint takes (0x400 on).
    private const uint HostFirstAddress = 0x1000;
    private static readonly TimeSpan Bound = SimulatedRemoteRig.Bound;

    [Theory]
    [InlineData(RemoteRecoveryMode.Boot)]
    [InlineData(RemoteRecoveryMode.Attach)]
    public void TwoVdevs_CrashAndRecover_EveryVdevFreshAndTalkingEachTime_NothingLeaks(RemoteRecoveryMode mode)
    {
        string path = SimulatedRemoteRig.NewShmPath();
        try
        {
            var description = MultiVdevRemoteControl.HostDescription(path);
            using var platform = PlatformResources.Open(description, new PlatformOpenOptions { ReadResourceTable = false });
            using var control = new MultiVdevRemoteControl(description, rebootAfterCrash: mode == RemoteRecoveryMode.Attach);
            using var rp = new RemoteProcessor(platform, control, new RemoteProcessorOptions
            {
                RecoveryMode = mode,
                AutoRecover = true,
                MonitorInterval = TimeSpan.FromMilliseconds(1),
                DeviceOptions = new RpmsgDeviceOptions { Name = "mv-host", SendTimeout = Bound },
            });
            rp.RegisterDriver(new RpmsgServiceDriver(MultiVdevRemoteControl.ServiceName));
            var channelsAdded = new StrongBox<int>();
            rp.ChannelAdded += _ => Interlocked.Increment(ref channelsAdded.Value);
            using var recovered = new SemaphoreSlim(0);
            rp.RecoveryFinished += _ => recovered.Release();
            var seen = new HashSet<RpmsgDevice>(ReferenceEqualityComparer.Instance);
            var crossTalk = new List<string>();

            rp.Start();
            Assert.Equal(["mv-host", "mv-host.vdev1"], rp.Devices.Select(d => d.Name));
            Assert.Same(rp.Device, rp.Devices[0]);
            var oldChannels = Exercise(rp, seen, crossTalk, channelsAdded, sessions: 1);

            for (int crash = 1; crash <= 3; crash++)
            {
                var oldDevices = rp.Devices.ToArray();
                // A vdev of the remote fails (1, then 0), then the application reports a crash.
                int crashVdev = crash == 1 ? 1 : 0;
                if (crash < 3)
                {
                    control.CrashVdev = crashVdev;
                    control.InjectCrash();
                }
                else
                {
                    rp.ReportCrash("test crash 3");
                }
                Assert.True(recovered.Wait(Bound), $"crash {crash}: no recovery ({rp}, last crash: {rp.LastCrashReason})");
                Assert.Equal((crash, crash, RemoteProcessorState.Running), (rp.CrashCount, rp.RecoveryCount, rp.State));
                // Boot-recovery leaves the dead remote's status bytes alone: the reason names the failed vdev.
                if (crash < 3 && mode == RemoteRecoveryMode.Boot)
                    Assert.Contains($"vdev {crashVdev}", rp.LastCrashReason, StringComparison.Ordinal);

                // Whole-remote recovery: every vdev's device was torn down, its channel's endpoint with it.
                Assert.All(oldDevices, d => Assert.Equal(RpmsgDeviceState.Stopped, d.State));
                foreach (var old in oldChannels)
                {
                    // (The message may be the vdev's own break, when its device saw NEEDS_RESET before the monitor did.)
                    Assert.Throws<RpmsgDeviceUnavailableException>(() => old.Send([1, 2, 3]));
                    Assert.True(old.Endpoint.IsDestroyed);
                }
                oldChannels = Exercise(rp, seen, crossTalk, channelsAdded, sessions: crash + 1);
            }
            lock (crossTalk)
                Assert.Empty(crossTalk);
            Assert.Empty(control.CrossTalk);
            // Boot-recovery boots the remote every time; attach-recovery only takes over what the crash rebooted.
            Assert.Equal(mode == RemoteRecoveryMode.Boot ? 4 : 3, control.BootCount);

            // Seed 002: recovery must not cost a little each time.
            var before = RemoteProcessorRecoveryLeakTests.Snapshot(path);
            for (int i = 0; i < LeakCycles; i++)
            {
                if (i % 2 == 0)
                    control.InjectCrash();
                else
                    rp.ReportCrash("leak cycle " + i);
                Assert.True(recovered.Wait(Bound), $"leak cycle {i}: no recovery ({rp}, last crash: {rp.LastCrashReason})");
                for (int v = 0; v < Vdevs; v++)
                    SimulatedRemoteRig.EchoRoundTrip(rp.WaitForChannel(MultiVdevRemoteControl.ServiceName, v, Bound), i);
            }
            var after = RemoteProcessorRecoveryLeakTests.Snapshot(path);
            string detail = $"before: {before}; after: {after}";
            Assert.True(after.Descriptors <= before.Descriptors + 4, "descriptors grew: " + detail);
            Assert.True(before.OwnMappings > 0, "the shared file is not mapped: " + detail);
            Assert.Equal(before.OwnMappings, after.OwnMappings);
            // Two dispatcher threads per recovery would show as 40.
            Assert.True(after.Threads <= before.Threads + 4, "threads grew: " + detail);
            Assert.Equal(3 + LeakCycles, rp.RecoveryCount);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TwoVdevs_SecondDoorbellFails_StartReleasesTheFirstAndLaterStartWorks()
    {
        string path = SimulatedRemoteRig.NewShmPath();
        try
        {
            var description = MultiVdevRemoteControl.HostDescription(path);
            using var platform = PlatformResources.Open(description, new PlatformOpenOptions { ReadResourceTable = false });
            using var control = new MultiVdevRemoteControl(description);
            bool fail = true;
            var made = new List<(IDoorbell Host, IDoorbell Peer)>();
            using var rp = new RemoteProcessor(platform, control, new RemoteProcessorOptions
            {
                DeviceOptions = new RpmsgDeviceOptions { Name = "mv-host", SendTimeout = Bound },
                VdevDoorbellFactory = vdev =>
                {
                    if (fail && vdev == 1)
                        throw new InvalidOperationException("no doorbell for vdev 1");
                    // The control keeps the remote's end; the test keeps a ringer to see whether the host end is closed.
                    var host = control.CreateHostDoorbell(vdev);
                    made.Add((host, control.PendingDoorbell(vdev)!));
                    return host;
                },
            });
            rp.RegisterDriver(new RpmsgServiceDriver(MultiVdevRemoteControl.ServiceName));

            var e = Assert.Throws<InvalidOperationException>(rp.Start);
            Assert.Contains("vdev 1", e.Message, StringComparison.Ordinal);
            Assert.Equal(RemoteProcessorState.Offline, rp.State);
            Assert.Empty(rp.Devices);
            Assert.Equal(0, control.BootCount);
            // Vdev 0's doorbell, made before vdev 1's failed, was closed: a ring towards it is refused.
            Assert.False(Assert.Single(made).Peer.Ring());

            fail = false;
            rp.Start();
            Assert.Equal(RemoteProcessorState.Running, rp.State);
            for (int v = 0; v < Vdevs; v++)
                SimulatedRemoteRig.EchoRoundTrip(rp.WaitForChannel(MultiVdevRemoteControl.ServiceName, v, Bound), 40 + v);
            rp.Stop();
            // Every doorbell of the session is closed at teardown.
            Assert.All(made.Skip(1), m => Assert.False(m.Peer.Ring()));
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// Checks the current session (fresh devices, one service channel per vdev on its own device, every
    /// channel event counted once) and runs the 128 endpoints of both vdevs at once; returns the channels.
    /// </summary>
    private static RpmsgChannel[] Exercise(RemoteProcessor rp, HashSet<RpmsgDevice> seen, List<string> crossTalk, StrongBox<int> channelsAdded, int sessions)
    {
        var devices = rp.Devices.ToArray();
        Assert.Equal(Vdevs, devices.Length);
        Assert.All(devices, d => Assert.True(seen.Add(d), $"device {d.Name} was used by an earlier session"));
        var channels = new RpmsgChannel[Vdevs];
        for (int v = 0; v < Vdevs; v++)
        {
            Assert.True(devices[v].WaitForLinkUp(Bound), $"vdev {v}: link not up ({devices[v].State})");
            channels[v] = rp.WaitForChannel(MultiVdevRemoteControl.ServiceName, v, Bound);
            Assert.Same(devices[v], channels[v].Device);
            Assert.Single(devices[v].Channels, c => c.Name == MultiVdevRemoteControl.ServiceName);
            SimulatedRemoteRig.EchoRoundTrip(channels[v], sessions * 10 + v);
        }
        int expected = sessions * Vdevs;
        int added = 0;
        Assert.True(SpinWait.SpinUntil(() => (added = Volatile.Read(ref channelsAdded.Value)) >= expected, Bound), $"{added} of {expected} channel events");
        Assert.Equal(expected, added);

        var received = new long[Vdevs][];
        var endpoints = new RpmsgEndpoint[Vdevs][];
        for (int v = 0; v < Vdevs; v++)
            (received[v], endpoints[v]) = (new long[MultiVdevRemote.Endpoints], CreateEndpoints(devices[v], v, received, crossTalk));
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var threads = Enumerable.Range(0, Vdevs).Select(v => new Thread(() =>
        {
            try
            {
                Talk(endpoints[v], v, received[v], sessions);
            }
            catch (Exception e)
            {
                failures.Enqueue(e);
            }
        })
        { IsBackground = true, Name = $"mv-talk-{v}" }).ToArray();
        foreach (var thread in threads)
            thread.Start();
        foreach (var thread in threads)
            Assert.True(thread.Join(Bound + Bound), $"{thread.Name} did not finish");
        Assert.Empty(failures);
        return channels;
    }

    private static RpmsgEndpoint[] CreateEndpoints(RpmsgDevice device, int vdev, long[][] received, List<string> crossTalk)
    {
        var endpoints = new RpmsgEndpoint[MultiVdevRemote.Endpoints];
        for (int k = 0; k < endpoints.Length; k++)
        {
            int endpoint = k;
            endpoints[k] = device.CreateEndpoint(HostFirstAddress + (uint)k, (_, source, payload) =>
            {
                string? wrong = MultiVdevRemote.Misrouted(payload, 0, vdev, endpoint, $"host vdev {vdev} endpoint {endpoint}")
                    ?? (source == MultiVdevRemote.FirstAddress + (uint)endpoint ? null : $"host vdev {vdev} endpoint {endpoint}: reply from 0x{source:X}");
                if (wrong is not null)
                {
                    lock (crossTalk)
                        crossTalk.Add(wrong);
                    return;
                }
                Interlocked.Increment(ref received[vdev][endpoint]);
            });
        }
        return endpoints;
    }

    /// <summary>Each round every endpoint of the vdev sends one message, then waits (bounded) for all the echoes.</summary>
    private static void Talk(RpmsgEndpoint[] endpoints, int vdev, long[] received, int session)
    {
        for (int round = 0; round < Rounds; round++)
        {
            for (int k = 0; k < endpoints.Length; k++)
                endpoints[k].SendTo(MultiVdevRemote.FirstAddress + (uint)k, MultiVdevRemote.Payload(0, vdev, k, session * 100 + round));
            long expected = (long)(round + 1) * endpoints.Length;
            if (!SpinWait.SpinUntil(() => received.Sum(c => Interlocked.Read(ref c)) >= expected, Bound))
                throw new TimeoutException($"vdev {vdev}, session {session}: round {round} echoes missing ({received.Sum()} of {expected})");
        }
    }
}
