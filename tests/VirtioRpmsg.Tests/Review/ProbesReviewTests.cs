using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Lifecycle;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (probes): where a driver's Probe runs, what it may call, and when a channel counts as there for
/// <see cref="RemoteProcessor.WaitForChannel(string, TimeSpan, CancellationToken)"/> and
/// <see cref="RpmsgLink.WaitForChannelAsync(string, CancellationToken)"/>.
/// </summary>
public class ProbesReviewTests
{
    private static readonly TimeSpan Bound = SimulatedRemoteRig.Bound;

    // A late registration probed the pending announcements under the processor's driver lock: a Probe whose service needs
    // another one (it waits for that channel) blocked the registration of the other driver, on another thread, until the
    // Probe's own wait gave up.
    [Fact]
    public void LateProbe_WaitingForAnotherService_DoesNotBlockThatServicesRegistration()
    {
        using var rig = SimulatedRemoteRig.Create(remote: new InProcessSimulatedOptions { Services = ["rpmsg-a", "rpmsg-b"] }, echoDriver: false);
        var rp = rig.Processor;
        rp.Start();
        var device = rp.Device!;
        Assert.True(SpinWait.SpinUntil(() => device.UnboundServiceCount == 2, Bound), "the remote never announced both services");
        using var inProbe = new ManualResetEventSlim();
        Exception? probeFailure = null;
        RpmsgChannel? b = null;
        var registerA = Task.Run(() => rp.RegisterDriver(new RpmsgServiceDriver("rpmsg-a")
        {
            Probe = _ =>
            {
                inProbe.Set();
                try
                {
                    b = rp.WaitForChannel("rpmsg-b", Bound);
                }
                catch (Exception e)
                {
                    probeFailure = e;
                    throw;
                }
            },
        }));
        Assert.True(inProbe.Wait(Bound), "rpmsg-a was never probed");

        // Blocked by the Probe, the registration would end only once the Probe's wait for rpmsg-b gave up: the Probe fails.
        var registerB = Task.Run(() => rp.RegisterDriver(new RpmsgServiceDriver("rpmsg-b")));
        Assert.True(registerA.Wait(Bound + Bound), "RegisterDriver(rpmsg-a) did not return");
        Assert.True(registerB.Wait(Bound), "RegisterDriver(rpmsg-b) did not return");

        Assert.True(probeFailure is null, $"RegisterDriver(rpmsg-b) on another thread was blocked while rpmsg-a's Probe ran (the Probe ran under the processor's driver lock): {probeFailure?.GetType().Name}: {probeFailure?.Message}");
        Assert.Equal("rpmsg-b", b!.Name);
        Assert.Equal(2, device.Channels.Count);
        rp.Stop();
    }

    // The same with the Probe registering the other driver itself on a worker it waits for (sync-over-async start-up code).
    [Fact]
    public void LateProbe_RegisteringAnotherDriverOnAWorker_Completes()
    {
        using var rig = SimulatedRemoteRig.Create(remote: new InProcessSimulatedOptions { Services = ["rpmsg-a", "rpmsg-b"] }, echoDriver: false);
        var rp = rig.Processor;
        rp.Start();
        var device = rp.Device!;
        Assert.True(SpinWait.SpinUntil(() => device.UnboundServiceCount == 2, Bound), "the remote never announced both services");
        bool inner = false;
        int probesOfB = 0;
        var register = Task.Run(() => rp.RegisterDriver(new RpmsgServiceDriver("rpmsg-a")
        {
            Probe = _ => inner = Task.Run(() => rp.RegisterDriver(new RpmsgServiceDriver("rpmsg-b") { Probe = _ => Interlocked.Increment(ref probesOfB) }))
                .Wait(Bound),
        }));
        Assert.True(register.Wait(Bound), "RegisterDriver(rpmsg-a) did not return");

        Assert.True(inner, "the Probe's RegisterDriver on a worker did not complete (the Probe ran under the processor's driver lock)");
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref probesOfB) == 1, Bound), "rpmsg-b was not probed");
        Assert.Equal(2, device.Channels.Count);
        rp.Stop();
    }

    // WaitForChannel returned a channel as soon as it was listed, while the driver's Probe (on the dispatcher) still ran:
    // the application used a channel its driver had not set up yet.
    [Fact]
    public void WaitForChannel_ReturnsOnlyAfterTheProbeCompleted()
    {
        using var rig = SimulatedRemoteRig.Create(remote: new InProcessSimulatedOptions { Services = ["rpmsg-gated"] }, echoDriver: false);
        var rp = rig.Processor;
        using var inProbe = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        int probed = 0;
        rp.RegisterDriver(new RpmsgServiceDriver("rpmsg-gated")
        {
            Probe = _ =>
            {
                inProbe.Set();
                gate.Wait(Bound);
                Volatile.Write(ref probed, 1);
            },
        });
        rp.Start();
        Assert.True(inProbe.Wait(Bound), "rpmsg-gated was never probed");

        var wait = Task.Run(() =>
        {
            rp.WaitForChannel("rpmsg-gated", Bound);
            return Volatile.Read(ref probed);
        });
        bool early = wait.Wait(TimeSpan.FromMilliseconds(300));
        gate.Set();
        Assert.True(wait.Wait(Bound), "WaitForChannel did not return after the Probe");

        Assert.False(early, "WaitForChannel returned the channel while its Probe was still running");
        Assert.Equal(1, wait.Result);
        rp.Stop();
    }

    // A Probe that fails removes its channel: WaitForChannel must not have handed it out meanwhile.
    [Fact]
    public void WaitForChannel_NeverReturnsAChannelWhoseProbeFails()
    {
        using var rig = SimulatedRemoteRig.Create(remote: new InProcessSimulatedOptions { Services = ["rpmsg-gated"] }, echoDriver: false);
        var rp = rig.Processor;
        using var inProbe = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        rp.RegisterDriver(new RpmsgServiceDriver("rpmsg-gated")
        {
            Probe = _ =>
            {
                inProbe.Set();
                gate.Wait(Bound);
                throw new InvalidOperationException("probe refuses");
            },
        });
        rp.Start();
        Assert.True(inProbe.Wait(Bound), "rpmsg-gated was never probed");

        var wait = Task.Run(() => rp.WaitForChannel("rpmsg-gated", TimeSpan.FromMilliseconds(1500)));
        bool early = wait.Wait(TimeSpan.FromMilliseconds(300));
        gate.Set();
        var outcome = Record.Exception(() => wait.Wait(Bound));

        Assert.False(early, $"WaitForChannel returned {(wait.IsCompletedSuccessfully ? wait.Result : null)} while its Probe was running (the Probe then failed)");
        Assert.IsType<TimeoutException>(Assert.IsType<AggregateException>(outcome).InnerException);
        Assert.Empty(rp.Device!.Channels);
        rp.Stop();
    }

    // Late registration: the Probe runs on the registering thread (documented on RpmsgServiceDriver); an announcement
    // after the registration is probed on the dispatcher.
    [Fact]
    public void Probe_LateRegistrationOnTheCallersThread_LaterAnnouncementOnTheDispatcher()
    {
        using var rig = SimulatedRemoteRig.Create(remote: new InProcessSimulatedOptions { Services = ["rpmsg-late"] }, echoDriver: false);
        var rp = rig.Processor;
        int early = 0;
        rp.RegisterDriver(new RpmsgServiceDriver(SimulatedRemote.EchoServiceName) { Probe = _ => Volatile.Write(ref early, Environment.CurrentManagedThreadId) });
        rp.Start();
        var device = rp.Device!;
        Assert.True(SpinWait.SpinUntil(() => device.UnboundServiceCount == 1, Bound), "the remote never announced rpmsg-late");
        int late = 0;
        int caller = Environment.CurrentManagedThreadId;
        rp.RegisterDriver(new RpmsgServiceDriver("rpmsg-late") { Probe = _ => late = Environment.CurrentManagedThreadId });

        Assert.Equal(caller, late);
        rig.Control.RemoteDevice!.CreateNamedEndpoint(SimulatedRemote.EchoServiceName, 0x700, null);
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref early) != 0, Bound), "the echo service was not probed");
        Assert.NotEqual(caller, early);
        rp.Stop();
    }
    // The link's waiter was completed from inside the channel's Probe: it went on (on the thread pool) while the probe
    // (and its ChannelAdded handlers) still ran. Disposing the channel's endpoint then handed its removal to the probing
    // thread, so the next wait returned the same, destroyed channel.
    [Fact]
    public async Task LinkWaitForChannel_ReturnsOnlyAfterTheProbeCompleted()
    {
        using var remote = MultiVdevRemote.Create(0);
        var open = RpmsgLink.OpenAsync(remote.HostDescription, new RpmsgLinkOptions { Timeout = TimeSpan.FromSeconds(10), Device = new RpmsgDeviceOptions { Name = "gated-link" } });
        remote.StartAll();
        Assert.True(open.Wait(Bound), "the link did not open");
        await using var link = open.Result;
        using var added = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        link.Device.ChannelAdded += _ =>
        {
            added.Set();
            gate.Wait(Bound);
        };
        var wait = link.WaitForChannelAsync("svc");
        remote.Announce(0, "svc", 0x900);
        Assert.True(added.Wait(Bound), "no ChannelAdded for svc");

        bool early = wait.Wait(TimeSpan.FromMilliseconds(300));
        bool sameAgain = false;
        if (early)
        {
            wait.Result.Endpoint.Dispose();
            var next = link.WaitForChannelAsync("svc");
            sameAgain = next.Wait(TimeSpan.FromMilliseconds(300)) && ReferenceEquals(next.Result, wait.Result);
        }
        gate.Set();

        Assert.False(early, "WaitForChannelAsync returned the channel while its probe (ChannelAdded) was still running"
            + (sameAgain ? "; after its endpoint was disposed, the next wait returned the same destroyed channel" : ""));
        var channel = await wait.WaitAsync(Bound);
        Assert.Equal("svc", channel.Name);
        Assert.False(channel.Endpoint.IsDestroyed);
    }
}
