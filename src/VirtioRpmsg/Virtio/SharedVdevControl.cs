using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Virtio;

/// <summary>
/// <see cref="IVdevControl"/> over fields in shared memory (the resource table's vdev entry, where
/// dfeatures, gfeatures and status sit at offsets 12, 16 and 24 from the entry start).
/// </summary>
public sealed class SharedVdevControl : IVdevControl
{
    private readonly RegionHandle _region;
    private readonly long _dfeatures;
    private readonly long _gfeatures;
    private readonly long _status;

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
        new(region, entryOffset + 12, entryOffset + 16, entryOffset + 24);

    public uint DeviceFeatures
    {
        get
        {
            using var lease = _region.Acquire();
            return lease.ReadUInt32Acquire(_dfeatures);
        }
    }

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
