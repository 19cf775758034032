using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Lifecycle;

/// <summary>Creates the <see cref="IMailbox"/> a (validated) <see cref="MailboxDescription"/> names, for <see cref="PlatformDoorbells"/>.</summary>
internal static class PlatformMailboxes
{
    /// <summary>Default i.MX MU channel: the one RPMsg-Lite and imx_rproc use.</summary>
    internal const int ImxDefaultChannel = 1;

    /// <summary>The mailbox <paramref name="m"/> describes (its fields at <paramref name="pathPrefix"/> + "doorbell.mailbox.") for vdev <paramref name="vdev"/>.</summary>
    /// <exception cref="PlatformDescriptionException">Its registers do not fit the region as mapped (a uio region is sized only at open).</exception>
    internal static IMailbox Create(PlatformResources platform, MailboxDescription m, string pathPrefix = "", int vdev = 0)
    {
        var region = platform.GetRegion(m.Region);
        string path = pathPrefix + "doorbell.mailbox.";
        // Load checked this against a described size; a uio region's size comes from sysfs, so check again.
        Fits(m.Offset, BlockSize(m), region, path + "offset", m.Region);
        if (m.StatusOffset is { } status)
            Fits(status, sizeof(uint), region, path + "statusOffset", m.Region);
        long offset = (long)m.Offset;
        switch (m.Kind)
        {
            case MailboxKind.Register:
                return new UioMailbox(region, offset, (uint)(m.Value ?? 1), (long?)m.StatusOffset, (uint)(m.StatusFullMask ?? 0));
            case MailboxKind.ImxMu:
                var layout = m.ImxLayout;
                bool data = m.ImxSignal == ImxMuSignal.Data;
                return new ImxMessagingUnit(new MmioRegisterBlock(region, offset, ImxMessagingUnit.RequiredSize(layout)),
                    m.TxChannel ?? ImxDefaultChannel, m.RxChannel ?? ImxDefaultChannel, m.ImxSignal, (uint?)m.Value, layout,
                    data ? VringWords(m) : null, data && m.Value is null ? NotifyIds(platform, vdev) : null);
            case MailboxKind.TiMailbox:
                int user = m.User!.Value;
                return new TiMailbox(new MmioRegisterBlock(region, offset, TiMailbox.RequiredSize(user)),
                    m.TxChannel!.Value, m.RxChannel!.Value, user, (uint?)m.Value, m.TiFifoCount, m.TiUserCount, VringWords(m), m.Value is null ? NotifyIds(platform, vdev) : null);
            case MailboxKind.Stm32Ipcc:
                var ipcc = new MmioRegisterBlock(region, offset, Stm32Ipcc.RequiredSize);
                if (m.TxChannel is { } tx && m.RxChannel is { } rx)
                    return new Stm32Ipcc(ipcc, m.Processor ?? 1, tx, rx);
                int[] channels = m.VringChannels ?? [0, 1];
                return Stm32Ipcc.ForVrings(ipcc, m.Processor ?? 1, channels[0], channels[1]);
            case MailboxKind.XilinxIpi:
                return new XilinxIpi(new MmioRegisterBlock(region, offset, XilinxIpi.RequiredSize), (uint)m.PeerMask!.Value);
            default:
                throw new PlatformDescriptionException("doorbell.mailbox.kind", m.Kind.ToString(), "unknown mailbox kind");
        }
    }

    // The description's words per vring; without them the Linux driver's, made from this vdev's notify ids.
    private static uint[]? VringWords(MailboxDescription m) =>
        m.VringValues is { } words ? [(uint)words[0], (uint)words[1]] : null;

    // The ids the host gives this vdev's vrings (every vring of every vdev of the table numbered from 0, as Linux
    // does), read at each kick: a doorbell made before the table is loaded still sends the ids written into it.
    private static VringNotifyIds NotifyIds(PlatformResources platform, int vdev) =>
        vdev < platform.Vdevs.Count ? platform.Vdevs[vdev].NotifyIds : new VringNotifyIds(vdev);

    private static void Fits(ulong offset, long bytes, SharedMemoryRegion region, string path, string name)
    {
        ulong regionBytes = (ulong)region.Size;
        if (regionBytes < (ulong)bytes || offset > regionBytes - (ulong)bytes)
            throw new PlatformDescriptionException(path, PlatformDescriptionValidator.Hex(offset),
                $"the registers (0x{bytes:X} bytes from here) do not fit in region '{name}' (0x{regionBytes:X} bytes as mapped)");
    }

    /// <summary>Bytes of registers the controller needs from <see cref="MailboxDescription.Offset"/> on (4 for a register).</summary>
    internal static long BlockSize(MailboxDescription m) => m.Kind switch
    {
        MailboxKind.ImxMu => ImxMessagingUnit.RequiredSize(m.ImxLayout),
        MailboxKind.TiMailbox => TiMailbox.RequiredSize(m.User ?? 0),
        MailboxKind.Stm32Ipcc => Stm32Ipcc.RequiredSize,
        MailboxKind.XilinxIpi => XilinxIpi.RequiredSize,
        _ => 4,
    };
}
