using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// <see cref="IVdevControl"/> for a layout without a resource table (RPMsg-Lite's): there is no status byte
/// and no feature word in shared memory. Both sides agree on the features by configuration (the name
/// service; never EVENT_IDX). The host keeps its status private. The remote takes the host's receive
/// buffers on vring 0 as its DRIVER_OK: an RPMsg-Lite master posts them all, then kicks, and that is
/// its "link up" (this stack's host posts them before it rings too). The shared value is only compared
/// with zero, so nothing the peer writes there can mislead more than "up" or "not yet".
/// </summary>
internal sealed class TablelessVdevControl : IVdevControl
{
    private const VirtioStatus Live = VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk | VirtioStatus.DriverOk;

    private readonly PlatformRole _role;
    private readonly uint _features;
    private readonly RegionHandle _vring0;
    private readonly long _availIndex;
    private uint _accepted;
    private int _status;

    /// <param name="role">Which side this is.</param>
    /// <param name="features">The features both sides are configured for.</param>
    /// <param name="vring0">The region holding vring 0.</param>
    /// <param name="availIndexOffset">Offset of vring 0's avail.idx in <paramref name="vring0"/>.</param>
    internal TablelessVdevControl(PlatformRole role, uint features, RegionHandle vring0, long availIndexOffset)
    {
        _role = role;
        _features = features;
        _accepted = features;
        _vring0 = vring0;
        _availIndex = availIndexOffset;
        using var lease = vring0.Acquire();
        lease.ReadUInt16(availIndexOffset); // fail now, not at link-up, if it is outside the region
    }

    /// <summary>For <paramref name="resources"/> whose description has no resource table: NS, vring 0's avail.idx.</summary>
    internal static TablelessVdevControl For(PlatformResources resources)
    {
        var layout = new VringLayout(resources.VringNum, resources.VringAlign);
        var (region, offset) = resources.Memory.Translate(resources.Vring0Address + (ulong)layout.AvailOffset + 2, 2);
        return new TablelessVdevControl(resources.Role, RpmsgFeatures.NameService, region, offset);
    }

    public uint DeviceFeatures => _features;

    public uint DriverFeatures
    {
        get => Volatile.Read(ref _accepted);
        set => Volatile.Write(ref _accepted, value);
    }

    public VirtioStatus Status
    {
        get
        {
            if (_role == PlatformRole.Host)
                return (VirtioStatus)Volatile.Read(ref _status);
            using var lease = _vring0.Acquire();
            return lease.ReadUInt16Acquire(_availIndex) != 0 ? Live : VirtioStatus.None;
        }
        set
        {
            // The remote writes no status (it has nowhere to); the host's stays private.
            if (_role == PlatformRole.Host)
                Volatile.Write(ref _status, (int)value);
        }
    }
}
