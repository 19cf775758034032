namespace VirtioRpmsg.Lifecycle;

/// <summary>Resource entry types of the remoteproc resource table ABI.</summary>
public enum ResourceType : uint
{
    Carveout = 0,
    Devmem = 1,
    Trace = 2,
    Vdev = 3,
}
