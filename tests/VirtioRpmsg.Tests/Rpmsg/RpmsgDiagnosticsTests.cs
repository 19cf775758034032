using System.Diagnostics.Metrics;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>Counters through System.Diagnostics.Metrics and the text dump.</summary>
public class RpmsgDiagnosticsTests
{
    [Fact]
    public void Metrics_AfterTraffic_PublishCountersPerDevice()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => { o.Name = "metrics-host"; o.WaitStrategy = RpmsgWaitStrategy.CallerPoll; },
            remote: o => { o.Name = "metrics-remote"; o.WaitStrategy = RpmsgWaitStrategy.CallerPoll; });
        var sink = loop.Remote.CreateEndpoint(0x400, (_, _, _) => { });
        var ept = loop.Host.CreateEndpoint(0x401);
        for (int i = 0; i < 5; i++)
            Assert.True(ept.TrySendTo(0x400, [1]));
        Assert.True(ept.TrySendTo(0x999, [1])); // no such endpoint on the remote: dropped there
        Assert.Equal(6, loop.Remote.Poll());

        var seen = new Dictionary<(string Instrument, string Device), long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "VirtioRpmsg")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "device" && tag.Value is string device)
                    seen[(instrument.Name, device)] = value;
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Equal(6, seen[("rpmsg.tx.messages", "metrics-host")]);
        Assert.Equal(6, seen[("rpmsg.rx.messages", "metrics-remote")]);
        Assert.Equal(1, seen[("rpmsg.dropped", "metrics-remote")]);
        Assert.Equal(0, seen[("rpmsg.errors", "metrics-host")]);
    }

    [Fact]
    public void Dump_RunningDevice_ShowsStateRingsEndpointsAndChannels()
    {
        using var loop = RpmsgLoopback.Create();
        var channel = RpmsgEchoTests.BindEcho(loop);
        channel.Send([1, 2, 3]);
        channel.Endpoint.Receive(new byte[8], TimeSpan.FromSeconds(30));
        // Counted once handled, after the delivery: a reader woken by the dispatcher may look before it is counted.
        loop.WaitUntil(() => loop.Host.Counters.RxMessages == 2, "the echo counted");
        string dump = loop.Host.Dump();
        Assert.Contains("role=Host state=Running", dump);
        Assert.Contains("ns=True", dump);
        Assert.Contains("vq0", dump);
        Assert.Contains("vq1", dump);
        Assert.Contains("free tx", dump);
        Assert.Contains($"channel 'rpmsg-echo' 0x{channel.LocalAddress:X} -> 0x{channel.RemoteAddress:X}", dump);
        Assert.Contains("ept 0x35", dump); // the name-service endpoint
        Assert.Contains("tx=1 rx=2", dump); // one echo request; the announcement and the echo
    }

    [Fact]
    public void DispatcherCpu_Set_CallbacksRunOnThatCpu()
    {
        int target = VirtioRpmsg.Platform.CpuAffinity.AvailableCpuCount - 1;
        using var loop = RpmsgLoopback.Create(host: o => { o.DispatcherCpu = target; o.WaitStrategy = RpmsgWaitStrategy.BusyPoll; });
        int seenCpu = -1;
        var done = new ManualResetEventSlim();
        loop.Host.CreateEndpoint(0x500, (_, _, _) =>
        {
            seenCpu = VirtioRpmsg.Platform.CpuAffinity.GetCurrentCpu();
            done.Set();
        });
        loop.Remote.CreateEndpoint(0x501).SendTo(0x500, [1]);
        Assert.True(done.Wait(TimeSpan.FromSeconds(30)));
        Assert.Equal(target, seenCpu);
    }

    [Fact]
    public void DispatcherCpu_Negative_IsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RpmsgLoopback.Create(host: o => o.DispatcherCpu = -1));
    }
}
