using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Rpmsg;

public class RpmsgVdevNegotiationTests
{
    private sealed class FakeControl : IVdevControl
    {
        public uint DeviceFeatures { get; set; }
        public uint DriverFeatures { get; set; }
        public VirtioStatus Status { get; set; }
    }

    // The layout is only used once a transport is built, which these tests never reach.
    private static RpmsgVdevNegotiation Create(FakeControl control) =>
        new(RpmsgVdevLayout.OpenAmpLinux(new VirtioRpmsg.Memory.AddressMap()), control, new NullDoorbell(), "n");

    private sealed class NullDoorbell : IDoorbell
    {
        public bool Ring() => true;
        public bool Wait(TimeSpan timeout, CancellationToken cancellationToken = default) => false;
        public bool Drain() => false;
        public void Dispose() { }
    }

    [Fact]
    public void TryAcceptAsRemote_NoDriverOkYet_ReturnsNullWithoutFault()
    {
        var control = new FakeControl { Status = VirtioStatus.Acknowledge | VirtioStatus.Driver };
        var negotiation = Create(control);
        Assert.Null(negotiation.TryAcceptAsRemote(out _, out var fault));
        Assert.Null(fault);
    }

    [Fact]
    public void TryAcceptAsRemote_HostAcceptedUnofferedFeatures_FaultNamesGFeatures()
    {
        var control = new FakeControl { Status = VirtioStatus.DriverOk, DeviceFeatures = 1, DriverFeatures = 3 };
        var negotiation = Create(control);
        negotiation.RecordOffer();
        Assert.Null(negotiation.TryAcceptAsRemote(out _, out var fault));
        Assert.NotNull(fault);
        Assert.Equal(FaultRule.FeaturesNotOffered, fault.Rule);
        Assert.Equal("gfeatures", fault.Field);
        Assert.Equal(3ul, fault.Value);
    }

    [Fact]
    public void TryAcceptAsRemote_OfferRewrittenAfterStart_JudgedAgainstTheRecordedOffer()
    {
        var control = new FakeControl { DeviceFeatures = 1 };
        var negotiation = Create(control);
        negotiation.RecordOffer();
        control.DeviceFeatures = 0xFFFF_FFFF; // the host may write the shared field too
        control.DriverFeatures = 3;
        control.Status = VirtioStatus.DriverOk;
        Assert.Null(negotiation.TryAcceptAsRemote(out _, out var fault));
        Assert.Equal(FaultRule.FeaturesNotOffered, fault!.Rule);
        Assert.Contains("(0x00000001)", fault.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckStatus_NothingWritten_ReturnsNull()
    {
        var control = new FakeControl { Status = VirtioStatus.NeedsReset };
        Assert.Null(Create(control).CheckStatus());
    }

    // The host's first kicks (its named endpoints' announcements at link-up) must follow DRIVER_OK. Virtio 1.x 3.1.1:
    // "The driver MUST NOT send any buffer available notifications to the device before setting DRIVER_OK";
    // virtio_rpmsg_probe prepares its kick and notifies only after virtio_device_ready().
    [Theory]
    [InlineData(false)] // control: passes, so the early kick below is the announcement's
    [InlineData(true)]
    public void Host_NoNotificationBeforeDriverOk(bool namedEndpoint)
    {
        IVdevControl? control = null;
        var rings = new List<(VirtioStatus Status, long Tx)>();
        RpmsgDevice? host = null;
        using var loop = RpmsgLoopback.Create(
            start: false,
            hostControl: c => control = c,
            hostDoorbell: b => new RecordingDoorbell(b, () =>
            {
                lock (rings)
                    rings.Add((control!.Status, host?.Counters.TxMessages ?? -1));
            }));
        host = loop.Host;
        using var named = namedEndpoint ? loop.Host.CreateNamedEndpoint("svc", 0x600, (_, _, _) => { }) : null;

        loop.Start();

        lock (rings)
        {
            var early = rings.Where(r => (r.Status & VirtioStatus.DriverOk) == 0).ToArray();
            Assert.True(early.Length == 0,
                $"{early.Length} notification(s) before DRIVER_OK: " + string.Join(", ", early.Select(r => $"status={r.Status} tx={r.Tx}")));
        }
    }

    private sealed class RecordingDoorbell(IDoorbell inner, Action onRing) : IDoorbell
    {
        public bool Ring()
        {
            onRing();
            return inner.Ring();
        }

        public bool Wait(TimeSpan timeout, CancellationToken cancellationToken = default) => inner.Wait(timeout, cancellationToken);
        public bool Drain() => inner.Drain();
        public void Dispose() => inner.Dispose();
    }
}
