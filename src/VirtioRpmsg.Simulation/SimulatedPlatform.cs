using VirtioRpmsg.Lifecycle;

namespace VirtioRpmsg.Simulation;

/// <summary>The platform description of the two-process simulation (host and simulated remote over one shared file).</summary>
public static class SimulatedPlatform
{
    /// <summary>
    /// The default two-process simulated setup, host side (use <c>with { Role = PlatformRole.Remote }</c>
    /// for the other): one shared-memory file of 0x80000 bytes at <paramref name="shmPath"/> in which
    /// address == offset, the OpenAMP layout (resource table at 0, vrings 0x4000/0x8000, pool 0x10000),
    /// features NS | EVENT_IDX, and an eventfd doorbell pair passed over a descriptor-passing socket named after the file.
    /// </summary>
    public static PlatformDescription Description(string shmPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(shmPath);
        var openAmp = PlatformDescription.OpenAmpLinux(PlatformRole.Host);
        return openAmp with
        {
            Regions = [openAmp.Regions[0] with { Path = shmPath }],
            // Both sides are this stack, which implements EVENT_IDX in both roles.
            Vdev = openAmp.Vdev with { Features = SimulatedRemote.DeviceFeatures },
            Doorbell = new DoorbellDescription { Kind = PlatformDoorbellKind.Eventfd, Socket = "vrpmsg:" + shmPath },
        };
    }

    /// <summary>The remote side of <see cref="Description"/> over a file the host created (the remote only opens it).</summary>
    public static PlatformDescription RemoteDescription(string shmPath, bool createFile = false)
    {
        var host = Description(shmPath);
        return host with { Role = PlatformRole.Remote, Regions = [host.Regions[0] with { Create = createFile }] };
    }
}
