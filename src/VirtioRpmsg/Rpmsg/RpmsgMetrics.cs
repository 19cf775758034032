using System.Diagnostics.Metrics;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// Publishes every live device's counters through System.Diagnostics.Metrics (meter "VirtioRpmsg").
/// Observable instruments read the counters only when a listener collects, so the message path pays nothing.
/// </summary>
internal static class RpmsgMetrics
{
    internal const string MeterName = "VirtioRpmsg";
    private static readonly Meter s_meter = new(MeterName);
    private static readonly List<WeakReference<RpmsgDevice>> s_devices = [];

    static RpmsgMetrics()
    {
        s_meter.CreateObservableCounter("rpmsg.tx.messages", () => Observe(c => c.TxMessages), "{message}", "Messages sent");
        s_meter.CreateObservableCounter("rpmsg.rx.messages", () => Observe(c => c.RxMessages), "{message}", "Messages received");
        s_meter.CreateObservableCounter("rpmsg.tx.buffer_waits", () => Observe(c => c.TxBufferWaits), "{wait}", "Sends that had to wait for a tx buffer");
        s_meter.CreateObservableCounter("rpmsg.dropped", () => Observe(c => c.Dropped), "{message}", "Messages dropped (unknown address, full queue, destroyed endpoint)");
        s_meter.CreateObservableCounter("rpmsg.errors", () => Observe(c => c.Errors), "{error}", "Protocol errors from the peer");
        s_meter.CreateObservableCounter("rpmsg.callback_errors", () => Observe(c => c.CallbackErrors), "{error}", "Exceptions thrown by application callbacks");
        s_meter.CreateObservableCounter("rpmsg.name_service.refused", () => Observe(c => c.NameServiceRefused), "{announcement}", "Name-service announcements refused at MaxAnnouncedServices or MaxEndpoints");
    }

    internal static void Register(RpmsgDevice device)
    {
        lock (s_devices)
        {
            s_devices.RemoveAll(w => !w.TryGetTarget(out _));
            s_devices.Add(new WeakReference<RpmsgDevice>(device));
        }
    }

    internal static void Unregister(RpmsgDevice device)
    {
        lock (s_devices)
            s_devices.RemoveAll(w => !w.TryGetTarget(out var d) || ReferenceEquals(d, device));
    }

    private static IEnumerable<Measurement<long>> Observe(Func<RpmsgCounters, long> pick)
    {
        List<RpmsgDevice> live = [];
        lock (s_devices)
        {
            foreach (var w in s_devices)
            {
                if (w.TryGetTarget(out var d))
                    live.Add(d);
            }
        }
        foreach (var d in live)
            yield return new Measurement<long>(pick(d.Counters), new KeyValuePair<string, object?>("device", d.Name));
    }
}
