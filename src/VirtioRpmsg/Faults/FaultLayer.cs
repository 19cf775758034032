namespace VirtioRpmsg;

/// <summary>The layer that detected a <see cref="Fault"/>.</summary>
public enum FaultLayer
{
    /// <summary>The shared-memory mapping (unmapped or remapped under an operation).</summary>
    Memory,

    /// <summary>A split virtqueue (ring indices, descriptors, used elements).</summary>
    Virtqueue,

    /// <summary>The rpmsg bus (buffer shapes, configuration, the vdev status and features).</summary>
    Rpmsg,

    /// <summary>The vhost-user control connection (messages, descriptors, guest memory table, vring setup).</summary>
    VhostUser,
}
