using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Lifecycle;

/// <summary>What an <see cref="RpmsgDevice"/> needs from opened <see cref="PlatformResources"/>: the layout and the vdev control.</summary>
public static class PlatformResourcesRpmsgExtensions
{
    /// <summary>Vdev 0's rpmsg layout (vrings and buffer pool); the layout must be resolved (table written or loaded).</summary>
    public static RpmsgVdevLayout CreateRpmsgLayout(this PlatformResources resources) => resources.CreateRpmsgLayout(0);

    /// <summary>Vdev <paramref name="vdev"/>'s rpmsg layout (vrings and buffer pool); the layout must be resolved (table written or loaded).</summary>
    public static RpmsgVdevLayout CreateRpmsgLayout(this PlatformResources resources, int vdev)
    {
        ArgumentNullException.ThrowIfNull(resources);
        var v = Vdev(resources, vdev);
        return new RpmsgVdevLayout
        {
            Memory = resources.Memory,
            Vring0Address = v.Vring0Address,
            Vring1Address = v.Vring1Address,
            VringNum = v.VringNum,
            VringAlign = v.VringAlign,
            BufferPoolAddress = v.BufferPoolAddress,
            BufferCount = v.BufferCount,
            BufferSize = v.BufferSize,
            // This stack supports one layout without a resource table: RPMsg-Lite's, with its conventions.
            Conventions = resources.Description.ResourceTable is null ? RpmsgPeerConventions.RpmsgLite : RpmsgPeerConventions.Virtio,
        };
    }

    /// <summary>
    /// Status and feature words of the rpmsg vdev entry in the resource table (written or loaded first). A
    /// description without a resource table (RPMsg-Lite's layout) gets a control with no shared words: the
    /// name service by configuration, and for the remote, the host's posted receive buffers as DRIVER_OK.
    /// </summary>
    public static IVdevControl CreateVdevControl(this PlatformResources resources) => resources.CreateVdevControl(0);

    /// <summary>Status and feature words of vdev <paramref name="vdev"/>'s entry in the resource table (written or loaded first).</summary>
    public static IVdevControl CreateVdevControl(this PlatformResources resources, int vdev)
    {
        ArgumentNullException.ThrowIfNull(resources);
        var v = Vdev(resources, vdev);
        if (resources.Description.ResourceTable is null)
            return TablelessVdevControl.For(resources);
        var entry = v.Entry
            ?? throw new InvalidOperationException("The resource table is not written (remote) or loaded (host) yet; its vdev entry holds the status and feature words.");
        return SharedVdevControl.ForVdevEntry(resources.ResourceTableRegion!.Bind(), resources.ResourceTableOffset + entry.Offset);
    }

    private static PlatformVdev Vdev(PlatformResources resources, int vdev)
    {
        if ((uint)vdev >= (uint)resources.Vdevs.Count)
            throw new ArgumentOutOfRangeException(nameof(vdev), vdev, $"the platform has {resources.Vdevs.Count} vdev(s)");
        return resources.Vdevs[vdev];
    }
}
