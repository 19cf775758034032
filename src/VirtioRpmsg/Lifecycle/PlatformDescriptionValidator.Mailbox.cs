using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Lifecycle;

// The mailbox rules: which fields each controller kind uses, their ranges, and its register block inside its region.
internal static partial class PlatformDescriptionValidator
{
    private const string MailboxPath = "doorbell.mailbox.";

    private static void ValidateMailbox(PlatformDescription d, MailboxDescription m)
    {
        Enum(m.Kind, MailboxPath + "kind");
        string kind = System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(m.Kind.ToString());
        bool register = m.Kind == MailboxKind.Register, imx = m.Kind == MailboxKind.ImxMu, ti = m.Kind == MailboxKind.TiMailbox;
        bool ipcc = m.Kind == MailboxKind.Stm32Ipcc, ipi = m.Kind == MailboxKind.XilinxIpi;
        OnlyFor(register, m.StatusOffset, MailboxPath + "statusOffset", kind);
        OnlyFor(register, m.StatusFullMask, MailboxPath + "statusFullMask", kind);
        OnlyFor(register || imx || ti, m.Value, MailboxPath + "value", kind);
        OnlyFor(imx || ti, m.VringValues, MailboxPath + "vringValues", kind);
        OnlyFor(ipcc, m.VringChannels, MailboxPath + "vringChannels", kind);
        OnlyFor(imx || ti || ipcc, m.TxChannel, MailboxPath + "txChannel", kind);
        OnlyFor(imx || ti || ipcc, m.RxChannel, MailboxPath + "rxChannel", kind);
        OnlyFor(ti, m.User, MailboxPath + "user", kind);
        OnlyFor(ti, m.Compatible, MailboxPath + "compatible", kind);
        OnlyFor(ti, m.FifoCount, MailboxPath + "fifoCount", kind);
        OnlyFor(ti, m.UserCount, MailboxPath + "userCount", kind);
        OnlyFor(ipcc, m.Processor, MailboxPath + "processor", kind);
        OnlyFor(ipi, m.PeerMask, MailboxPath + "peerMask", kind);
        OnlyFor(imx, m.Signal, MailboxPath + "signal", kind);
        OnlyFor(imx, m.Layout, MailboxPath + "layout", kind);

        int index = RegionIndex(d, m.Region, MailboxPath + "region");
        ulong? regionSize = d.Regions[index].Size;
        if (m.Value > U32Max)
            throw Error(MailboxPath + "value", Hex(m.Value), "a mailbox register is 32 bits");
        ValidateVringValues(m);
        switch (m.Kind)
        {
            case MailboxKind.Register:
                ValidateRegisterMailbox(m, regionSize);
                return;
            case MailboxKind.ImxMu:
                if (m.Signal is not null && !MailboxDescription.Is(m.Signal, "data") && m.ImxSignal != ImxMuSignal.GeneralPurpose)
                    throw Error(MailboxPath + "signal", Str(m.Signal), "must be \"data\" (TRn/RRn) or \"generalPurpose\" (GIRn/GIPn)");
                if (m.Layout is not null && !MailboxDescription.Is(m.Layout, "v1") && m.ImxLayout != ImxMuLayout.V2)
                    throw Error(MailboxPath + "layout", Str(m.Layout), "must be \"v1\" (i.MX6SX/7D/8M/8QM) or \"v2\" (i.MX8ULP/93/95)");
                if (m.ImxSignal == ImxMuSignal.GeneralPurpose && m.Value is not null)
                    throw Error(MailboxPath + "value", Hex(m.Value), "a general-purpose interrupt carries no word (value is for signal \"data\")");
                if (m.ImxSignal == ImxMuSignal.GeneralPurpose && m.VringValues is not null)
                    throw Error(MailboxPath + "vringValues", Words(m.VringValues), "a general-purpose interrupt carries no word (vringValues is for signal \"data\")");
                Number(m.TxChannel, MailboxPath + "txChannel", 0, 3, required: false, "an MU channel");
                Number(m.RxChannel, MailboxPath + "rxChannel", 0, 3, required: false, "an MU channel");
                break;
            case MailboxKind.TiMailbox:
                string cluster = ValidateTiCluster(m);
                int fifos = m.TiFifoCount, users = m.TiUserCount;
                Number(m.TxChannel, MailboxPath + "txChannel", 0, fifos - 1, required: true, $"the FIFO we write ({cluster} has {fifos} FIFOs)");
                Number(m.RxChannel, MailboxPath + "rxChannel", 0, fifos - 1, required: true, $"the FIFO the remote writes ({cluster} has {fifos} FIFOs)");
                if (m.TxChannel == m.RxChannel)
                    throw Error(MailboxPath + "rxChannel", Num(m.RxChannel), "must differ from txChannel: a FIFO carries one direction");
                Number(m.User, MailboxPath + "user", 0, users - 1, required: true, $"the interrupt user of the UIO interrupt ({cluster} has {users} users)");
                break;
            case MailboxKind.Stm32Ipcc:
                if (m.VringChannels is { } channels)
                {
                    if (m.TxChannel is not null || m.RxChannel is not null)
                        throw Error(MailboxPath + (m.TxChannel is not null ? "txChannel" : "rxChannel"), Num(m.TxChannel ?? m.RxChannel),
                            "give vringChannels (a channel per vring) or txChannel and rxChannel (one channel each way), not both");
                    if (channels.Length != 2)
                        throw Error(MailboxPath + "vringChannels", Channels(channels), $"has {channels.Length} channels; an rpmsg vdev has two vrings, so it needs two (vring 0, vring 1)");
                    Number(channels[0], MailboxPath + "vringChannels[0]", 0, 5, required: true, "the IPCC channel of vring 0 (0-based)");
                    Number(channels[1], MailboxPath + "vringChannels[1]", 0, 5, required: true, "the IPCC channel of vring 1 (0-based)");
                    if (channels[0] == channels[1])
                        throw Error(MailboxPath + "vringChannels", Channels(channels), "each vring needs its own channel (stm32_rproc's vq0 and vq1)");
                }
                else if (m.TxChannel is not null || m.RxChannel is not null)
                {
                    Number(m.TxChannel, MailboxPath + "txChannel", 0, 5, required: true, "the IPCC channel we set (0-based; or give vringChannels)");
                    Number(m.RxChannel, MailboxPath + "rxChannel", 0, 5, required: true, "the IPCC channel the remote sets (0-based; or give vringChannels)");
                }
                Number(m.Processor, MailboxPath + "processor", 1, 2, required: false, "this side's IPCC processor");
                break;
            case MailboxKind.XilinxIpi:
                if (m.PeerMask is null or 0 or > U32Max)
                    throw Error(MailboxPath + "peerMask", Hex(m.PeerMask), "must be the remote agent's non-zero 32-bit IPI bit (ZynqMP RPU0: 0x100)");
                break;
        }
        long size = PlatformMailboxes.BlockSize(m);
        if ((m.Offset & 3) != 0)
            throw Error(MailboxPath + "offset", Hex(m.Offset), $"the {kind} register block must start 4-byte aligned");
        if (regionSize is { } regionBytes && (regionBytes < (ulong)size || m.Offset > regionBytes - (ulong)size))
            throw Error(MailboxPath + "offset", Hex(m.Offset), $"the {kind} registers (0x{size:X} bytes from here) do not fit in region '{m.Region}' (0x{regionBytes:X} bytes)");
    }

    // The FIFO and user counts a TI cluster may have, per devicetree compatible (ti,omap-mailbox.yaml); returns the
    // cluster as messages name it. OMAP2/3 clusters use the other interrupt register layout, which TiMailbox does not drive.
    private static string ValidateTiCluster(MailboxDescription m)
    {
        (int[] Fifos, int[] Users) counts;
        switch (m.Compatible)
        {
            case null:
                Number(m.FifoCount, MailboxPath + "fifoCount", 1, 16, required: false, "the cluster's FIFOs (ti,mbox-num-fifos)");
                Number(m.UserCount, MailboxPath + "userCount", 1, 4, required: false, "the cluster's interrupt users (ti,mbox-num-users)");
                return m.FifoCount is null && m.UserCount is null ? "a cluster without a compatible" : "the cluster";
            case "ti,am654-mailbox" or "ti,am64-mailbox":
                counts = ([16], [4]);
                break;
            case "ti,omap4-mailbox":
                counts = ([8, 12], [3, 4]);
                break;
            case "ti,omap2-mailbox" or "ti,omap3-mailbox":
                throw Error(MailboxPath + "compatible", Str(m.Compatible),
                    "an OMAP2/3 mailbox has its interrupt registers at 0x100 + 8·user, a layout tiMailbox does not drive (it drives ti,omap4-mailbox, ti,am654-mailbox and ti,am64-mailbox)");
            default:
                throw Error(MailboxPath + "compatible", Str(m.Compatible), "must be \"ti,omap4-mailbox\", \"ti,am654-mailbox\" or \"ti,am64-mailbox\" (the mailbox node's devicetree compatible)");
        }
        if (m.FifoCount is { } f && Array.IndexOf(counts.Fifos, f) < 0)
            throw Error(MailboxPath + "fifoCount", Num(f), $"a {m.Compatible} cluster has {string.Join(" or ", counts.Fifos)} FIFOs");
        if (m.UserCount is { } u && Array.IndexOf(counts.Users, u) < 0)
            throw Error(MailboxPath + "userCount", Num(u), $"a {m.Compatible} cluster has {string.Join(" or ", counts.Users)} interrupt users");
        return m.Compatible;
    }

    private static void ValidateVringValues(MailboxDescription m)
    {
        if (m.VringValues is not { } words)
            return;
        if (m.Value is not null)
            throw Error(MailboxPath + "vringValues", Words(words), "give value (one word for every kick) or vringValues (a word per vring), not both");
        if (words.Length != 2)
            throw Error(MailboxPath + "vringValues", Words(words), $"has {words.Length} words; an rpmsg vdev has two vrings, so it needs two (vring 0, vring 1)");
        for (int i = 0; i < words.Length; i++)
        {
            if (words[i] > U32Max)
                throw Error($"{MailboxPath}vringValues[{i}]", Hex(words[i]), "a mailbox word is 32 bits");
        }
    }

    private static string Words(ulong[] words) => "[" + string.Join(", ", words.Select(w => Hex(w))) + "]";

    private static string Channels(int[] channels) => "[" + string.Join(", ", channels) + "]";

    private static void ValidateRegisterMailbox(MailboxDescription m, ulong? regionSize)
    {
        Register(m.Offset, MailboxPath + "offset", m.Region, regionSize);
        if (m.StatusOffset is { } status)
        {
            Register(status, MailboxPath + "statusOffset", m.Region, regionSize);
            if (m.StatusFullMask is null or 0 or > U32Max)
                throw Error(MailboxPath + "statusFullMask", m.StatusFullMask is null ? "(missing)" : Hex(m.StatusFullMask),
                    "a status register needs a non-zero 32-bit 'FIFO full' mask");
        }
        else if (m.StatusFullMask is not null)
        {
            throw Error(MailboxPath + "statusFullMask", Hex(m.StatusFullMask), "given without doorbell.mailbox.statusOffset");
        }
    }

    private static void Number(int? value, string path, int min, int max, bool required, string what)
    {
        if (value is null)
        {
            if (required)
                throw Error(path, "(missing)", $"required: {what}, {min}-{max}");
            return;
        }
        if (value < min || value > max)
            throw Error(path, Num(value), $"must be {what}, {min}-{max}");
    }
}
