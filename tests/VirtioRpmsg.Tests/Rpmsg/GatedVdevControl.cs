using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// A remote's view of the vdev control that holds the first read of the device features (the remote
/// reads them once per link-up attempt past DRIVER_OK, just before it builds its transport) until the
/// test releases it, and counts every such read.
/// </summary>
internal sealed class GatedVdevControl(IVdevControl inner) : IVdevControl
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private int _reads;

    public ManualResetEventSlim InFirstRead { get; } = new();
    public ManualResetEventSlim ReleaseFirstRead { get; } = new();

    /// <summary>Device-feature reads so far: one per transport a link-up built.</summary>
    public int FeatureReads => Volatile.Read(ref _reads);

    public uint DeviceFeatures
    {
        get
        {
            if (Interlocked.Increment(ref _reads) == 1)
            {
                InFirstRead.Set();
                ReleaseFirstRead.Wait(Bound);
            }
            return inner.DeviceFeatures;
        }
    }

    public uint DriverFeatures
    {
        get => inner.DriverFeatures;
        set => inner.DriverFeatures = value;
    }

    public VirtioStatus Status
    {
        get => inner.Status;
        set => inner.Status = value;
    }
}
