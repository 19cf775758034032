namespace VirtioRpmsg.Lifecycle;

/// <summary>Resource entry types of the remoteproc resource table ABI.</summary>
public enum ResourceType : uint
{
    /// <summary>RSC_CARVEOUT: memory the remote needs allocated (and mapped) for it.</summary>
    Carveout = 0,
    /// <summary>RSC_DEVMEM: a device memory range the remote needs mapped into its IOMMU.</summary>
    Devmem = 1,
    /// <summary>RSC_TRACE: a trace buffer the remote writes its log into.</summary>
    Trace = 2,
    /// <summary>RSC_VDEV: a virtio device with its vrings (the rpmsg transport).</summary>
    Vdev = 3,
}
