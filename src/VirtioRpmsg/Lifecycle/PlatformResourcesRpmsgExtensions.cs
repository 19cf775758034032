using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Lifecycle;

/// <summary>What an <see cref="RpmsgDevice"/> needs from opened <see cref="PlatformResources"/>: the layout and the vdev control.</summary>
public static class PlatformResourcesRpmsgExtensions
{
    /// <summary>The rpmsg vdev layout (vrings and buffer pool); the layout must be resolved (table written or loaded).</summary>
    public static RpmsgVdevLayout CreateRpmsgLayout(this PlatformResources resources)
    {
        ArgumentNullException.ThrowIfNull(resources);
        return new RpmsgVdevLayout
        {
            Memory = resources.Memory,
            Vring0Address = resources.Vring0Address,
            Vring1Address = resources.Vring1Address,
            VringNum = resources.VringNum,
            VringAlign = resources.VringAlign,
            BufferPoolAddress = resources.BufferPoolAddress,
            BufferCount = resources.BufferCount,
            BufferSize = resources.BufferSize,
            // This stack supports one layout without a resource table: RPMsg-Lite's, with its conventions.
            Conventions = resources.Description.ResourceTable is null ? RpmsgPeerConventions.RpmsgLite : RpmsgPeerConventions.Virtio,
        };
    }

    /// <summary>
    /// Status and feature words of the rpmsg vdev entry in the resource table (written or loaded first). A
    /// description without a resource table (RPMsg-Lite's layout) gets a control with no shared words: the
    /// name service by configuration, and for the remote, the host's posted receive buffers as DRIVER_OK.
    /// </summary>
    public static IVdevControl CreateVdevControl(this PlatformResources resources)
    {
        ArgumentNullException.ThrowIfNull(resources);
        if (resources.Description.ResourceTable is null)
            return TablelessVdevControl.For(resources);
        var vdev = resources.RpmsgVdev
            ?? throw new InvalidOperationException("The resource table is not written (remote) or loaded (host) yet; its vdev entry holds the status and feature words.");
        return SharedVdevControl.ForVdevEntry(resources.ResourceTableRegion!.Bind(), resources.ResourceTableOffset + vdev.Offset);
    }
}
