using System.Text;

namespace VirtioRpmsg.Rpmsg;

/// <summary>The text of <see cref="RpmsgDevice.Dump"/>: state, features, wait strategy and doorbell holder, rings, buffers, endpoints, channels, counters.</summary>
internal static class RpmsgDeviceDump
{
    internal static string Format(RpmsgDevice device, RpmsgVdevLayout layout, IRpmsgTransport? transport)
    {
        var sb = new StringBuilder();
        var reason = device.StateReason;
        sb.AppendLine($"device '{device.Name}' role={device.Role} state={device.State}{(reason is null ? "" : " (" + reason + ")")}");
        sb.AppendLine($"  features=0x{device.NegotiatedFeatures:X8} ns={device.NameServiceEnabled} buffer-size={layout.BufferSize} buffers={layout.BufferCount} vring-num={layout.VringNum}");
        sb.AppendLine($"  wait={device.Options.WaitStrategy} {device.Rx.HandOver}");
        if (transport is not null)
            sb.AppendLine("  " + transport);
        var c = device.Counters;
        sb.AppendLine($"  tx={c.TxMessages} rx={c.RxMessages} tx-waits={c.TxBufferWaits} dropped={c.Dropped} errors={c.Errors} callback-errors={c.CallbackErrors} ns-duplicates={c.NameServiceDuplicates} ns-refused={c.NameServiceRefused}");
        foreach (var e in device.Endpoints)
            sb.AppendLine("  " + e);
        foreach (var ch in device.Channels)
            sb.AppendLine("  " + ch);
        return sb.ToString();
    }
}
