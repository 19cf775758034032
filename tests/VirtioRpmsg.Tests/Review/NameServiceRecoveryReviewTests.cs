using VirtioRpmsg.Chaos;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Lifecycle;
using VirtioRpmsg.Tests.Rpmsg;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (name service and recovery, seeds 002-004): a wait for a channel that spans the processor's dispose, and a
/// hostile remote's service names (control characters) in what the host prints.
/// </summary>
public class NameServiceRecoveryReviewTests
{
    private static readonly TimeSpan Bound = SimulatedRemoteRig.Bound;

    // A name a hostile remote may announce: valid UTF-8 without NUL (Linux binds it as it is), holding a line break and
    // a terminal escape that clears the screen.
    private const string HostileName = "evil\r\nFAKE\u001b[2J";

    private static bool HasControl(string text) => text.Any(char.IsControl);

    // RemoteProcessor.WaitForChannel had no disposed check: after Dispose it waited its whole timeout and threw
    // TimeoutException, and with Timeout.InfiniteTimeSpan it never returned (the dispose's pulse woke it, and it waited
    // again for a session that can never come).
    [Fact]
    public void RemoteProcessor_InfiniteChannelWaitSpanningDispose_EndsWithObjectDisposed()
    {
        using var rig = SimulatedRemoteRig.Create();
        var rp = rig.Processor;
        rp.Start();
        using var waiting = new ManualResetEventSlim();
        var wait = Task.Run(() =>
        {
            waiting.Set();
            return rp.WaitForChannel("never-announced", Timeout.InfiniteTimeSpan);
        });
        Assert.True(waiting.Wait(Bound));
        rp.Dispose();
        Assert.True(((IAsyncResult)wait).AsyncWaitHandle.WaitOne(Bound),
            "WaitForChannel(Infinite) still waits after the processor was disposed");
        var e = Assert.Throws<AggregateException>(() => wait.Wait());
        Assert.IsType<ObjectDisposedException>(e.InnerException);
    }

    [Fact]
    public void RemoteProcessor_ChannelWaitAfterDispose_ThrowsObjectDisposedAtOnce()
    {
        using var rig = SimulatedRemoteRig.Create();
        var rp = rig.Processor;
        rp.Start();
        rp.Dispose();
        Assert.Throws<ObjectDisposedException>(() => rp.WaitForChannel("rpmsg-echo", TimeSpan.Zero));
        Assert.Throws<ObjectDisposedException>(() => rp.WaitForChannel("rpmsg-echo", 0, TimeSpan.Zero));
    }

    // Seed 003 (stale objects reused): every operation on a device kept from before a recovery refused with
    // RpmsgDeviceUnavailableException, except RegisterDriver, which took the driver silently on the stopped device, where
    // it can never probe: the application waited for a channel that could not come.
    [Fact]
    public void RemoteProcessor_StaleDeviceFromBeforeARecovery_RegisterDriverRefused_FreshDeviceProbes()
    {
        using var rig = SimulatedRemoteRig.CreateAutoRecovering(RemoteRecoveryMode.Boot, [SimulatedRemote.EchoServiceName, "late-svc"]);
        var rp = rig.Processor;
        using var recovered = new SemaphoreSlim(0);
        rp.RecoveryFinished += _ => recovered.Release();
        rp.Start();
        var stale = rp.Device!;
        rp.ReportCrash("review");
        Assert.True(recovered.Wait(Bound), $"no recovery ({rp})");
        var fresh = rp.Device!;
        Assert.NotSame(stale, fresh);

        int probedOnStale = 0;
        var e = Assert.Throws<RpmsgDeviceUnavailableException>(() =>
            stale.RegisterDriver(new RpmsgServiceDriver("late-svc") { Probe = _ => Interlocked.Increment(ref probedOnStale) }));
        Assert.Equal(RpmsgDeviceState.Stopped, e.State);
        Assert.Contains("stopped", e.Message, StringComparison.Ordinal);

        using var probed = new ManualResetEventSlim();
        fresh.RegisterDriver(new RpmsgServiceDriver("late-svc") { Probe = _ => probed.Set() });
        Assert.True(probed.Wait(Bound), "the fresh device did not probe the service");
        Assert.Equal(0, probedOnStale);
        SimulatedRemoteRig.EchoRoundTrip(rp, 1);
    }

    // The remote's names are peer text: the TimeoutException listed them raw, so a name with a line break or an escape
    // garbled the message (PrintableText is what the library prints peer and file text with).
    [Fact]
    public async Task RpmsgLink_WaitTimesOut_PeerNamesWithControlCharacters_PrintedEscaped()
    {
        using var remote = MultiVdevRemote.Create(0);
        var open = RpmsgLink.OpenAsync(remote.HostDescription, new RpmsgLinkOptions { Name = "hostile-names", Timeout = LinkChannelWait.Open });
        remote.StartAll();
        Assert.True(open.Wait(LinkChannelWait.Open), "the link did not open");
        using var link = LinkChannelWait.Shorten(open.Result, TimeSpan.FromSeconds(1));
        using var announced = remote.Announce(0, HostileName, 0x900);
        Assert.True(SpinWait.SpinUntil(() => link.Device.AnnouncedServiceNames.Contains(HostileName), Bound), "the name was not announced");

        var e = await Assert.ThrowsAsync<TimeoutException>(() => link.WaitForChannelAsync("other", 0));
        Assert.Contains("evil", e.Message, StringComparison.Ordinal);
        Assert.False(HasControl(e.Message), "control characters in: " + e.Message);
        Assert.Contains(@"evil\u000D\u000AFAKE\u001B[2J", e.Message, StringComparison.Ordinal);
    }

    // The name service's own warnings (a destroy of an unknown service, a refusal by AllowedServices, a duplicate, a
    // refusal at the bound) carried the peer's name raw into the log line.
    [Fact]
    public void NameService_PeerNamesWithControlCharacters_LoggedEscaped()
    {
        var log = new ChaosLog();
        using var loop = RpmsgLoopback.Create(host: o =>
        {
            o.Logger = log;
            o.AllowedServices = new HashSet<string>(StringComparer.Ordinal) { HostileName + "1", HostileName + "2" };
            o.MaxAnnouncedServices = 1;
        });
        using var sender = loop.Remote.CreateEndpoint(0x700);
        RpmsgNameServiceFloodTests.Announce(sender, HostileName, 0x900, NameServiceFlags.Destroy); // unknown service
        RpmsgNameServiceFloodTests.Announce(sender, HostileName, 0x901, NameServiceFlags.Create); // not allowed
        RpmsgNameServiceFloodTests.Announce(sender, HostileName + "1", 0x902, NameServiceFlags.Create); // unbound
        RpmsgNameServiceFloodTests.Announce(sender, HostileName + "1", 0x902, NameServiceFlags.Create); // duplicate
        RpmsgNameServiceFloodTests.Announce(sender, HostileName + "2", 0x903, NameServiceFlags.Create); // past the bound
        loop.WaitUntil(() => loop.Host.Counters.NameServiceRefused == 1 && loop.Host.Counters.NameServiceDuplicates == 1
            && loop.Host.Counters.Errors == 2, "every message handled");

        var lines = log.Entries.Where(l => l.Contains("evil", StringComparison.Ordinal)).ToArray();
        Assert.Equal(4, lines.Length);
        Assert.All(lines, l => Assert.False(HasControl(l), "control characters in the log line: " + l));
        Assert.All(lines, l => Assert.Contains(@"evil\u000D\u000AFAKE\u001B[2J", l, StringComparison.Ordinal));
    }
}
