using VirtioRpmsg.Memory;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// <see cref="IVdevControl"/> over fields in shared memory: the dfeatures, gfeatures and status fields
/// of a resource table's vdev entry (<see cref="VdevEntry.DeviceFeaturesOffset"/>,
/// <see cref="VdevEntry.GuestFeaturesOffset"/>, <see cref="VdevEntry.StatusOffset"/>).
/// </summary>
public sealed class SharedVdevControl : IVdevControl
{
    private readonly RegionHandle _region;
    private readonly long _dfeatures;
    private readonly long _gfeatures;
    private readonly long _status;

    /// <summary>Accesses the feature and status fields at the given offsets of <paramref name="region"/>; throws at once if any is outside it.</summary>
    public SharedVdevControl(RegionHandle region, long deviceFeaturesOffset, long driverFeaturesOffset, long statusOffset)
    {
        _region = region;
        _dfeatures = deviceFeaturesOffset;
        _gfeatures = driverFeaturesOffset;
        _status = statusOffset;
        // Fail now, not at first use, if any field is outside the region.
        using var lease = region.Acquire();
        lease.ReadUInt32(_dfeatures);
        lease.ReadUInt32(_gfeatures);
        lease.ReadByte(_status);
    }

    /// <summary>For a resource-table vdev entry that starts at <paramref name="entryOffset"/>.</summary>
    public static SharedVdevControl ForVdevEntry(RegionHandle region, long entryOffset) =>
        new(region, entryOffset + VdevEntry.DeviceFeaturesOffset, entryOffset + VdevEntry.GuestFeaturesOffset, entryOffset + VdevEntry.StatusOffset);

    /// <summary>The device's offered features (dfeatures), read with acquire.</summary>
    public uint DeviceFeatures
    {
        get
        {
            using var lease = _region.Acquire();
            return lease.ReadUInt32Acquire(_dfeatures);
        }
    }

    /// <summary>The driver's accepted features (gfeatures); written with release before the status.</summary>
    public uint DriverFeatures
    {
        get
        {
            using var lease = _region.Acquire();
            return lease.ReadUInt32Acquire(_gfeatures);
        }
        set
        {
            using var lease = _region.Acquire();
            lease.WriteUInt32Release(_gfeatures, value);
        }
    }

    /// <summary>The virtio status byte; a write is a release, so fields written before it are visible first.</summary>
    public VirtioStatus Status
    {
        get
        {
            using var lease = _region.Acquire();
            return (VirtioStatus)lease.ReadByteAcquire(_status);
        }
        set
        {
            using var lease = _region.Acquire();
            lease.WriteByteRelease(_status, (byte)value);
        }
    }
}
