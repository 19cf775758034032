using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Harness;

/// <summary>
/// Both rpmsg roles in one process over one anonymous shared region laid out like OpenAMP's
/// Linux-userspace machine (vrings at 0x4000/0x8000, 512 x 512-byte buffers at 0x10000; a vdev entry
/// at 0x100 holds the feature words and status). Doorbells are an eventfd pair (real wake-ups) or a
/// loopback pair (for <see cref="RpmsgWaitStrategy.CallerPoll"/> on both sides, one thread drives all).
/// </summary>
public sealed class RpmsgPair : IDisposable
{
    private const long VdevEntryOffset = 0x100;

    private readonly SharedMemoryRegion _region;
    private readonly IDoorbell _hostDoorbell;
    private readonly IDoorbell _remoteDoorbell;

    private RpmsgPair(SharedMemoryRegion region, IDoorbell hostDoorbell, IDoorbell remoteDoorbell, RpmsgDevice host, RpmsgDevice remote)
    {
        _region = region;
        _hostDoorbell = hostDoorbell;
        _remoteDoorbell = remoteDoorbell;
        Host = host;
        Remote = remote;
    }

    /// <summary>The driver side (Linux's role).</summary>
    public RpmsgDevice Host { get; }

    /// <summary>The device side (the remote processor's role).</summary>
    public RpmsgDevice Remote { get; }

    /// <summary>
    /// Creates both devices (not started). <paramref name="eventFd"/> selects eventfd doorbells;
    /// otherwise in-process loopback doorbells.
    /// </summary>
    public static RpmsgPair Create(RpmsgWaitStrategy hostWait, RpmsgWaitStrategy remoteWait, bool eventFd, string name = "bench", int remoteMaxEndpoints = 1024)
    {
        var region = SharedMemoryRegion.CreateAnonymous(0x80000, deviceAddress: 0, guardPages: true, name: name);
        IDoorbell? hostBell = null, remoteBell = null;
        RpmsgDevice? remote = null;
        try
        {
            using (var lease = region.Acquire())
                lease.WriteUInt32(VdevEntryOffset + VdevEntry.DeviceFeaturesOffset, RpmsgFeatures.NameService | VirtioFeatures.EventIndex);
            var control = SharedVdevControl.ForVdevEntry(region.Bind(), VdevEntryOffset);
            if (eventFd)
            {
                var bell = EventFdDoorbell.Create(name);
                hostBell = bell;
                remoteBell = bell.CreatePeer();
            }
            else
            {
                (hostBell, remoteBell) = LoopbackDoorbell.CreatePair();
            }
            var layout = RpmsgVdevLayout.OpenAmpLinux(new AddressMap().Add(region));
            var timeout = TimeSpan.FromSeconds(30);
            remote = RpmsgDevice.CreateRemote(layout, control, remoteBell, new RpmsgDeviceOptions { Name = name + "-remote", WaitStrategy = remoteWait, SendTimeout = timeout, MaxEndpoints = remoteMaxEndpoints });
            var host = RpmsgDevice.CreateHost(layout, control, hostBell, new RpmsgDeviceOptions { Name = name + "-host", WaitStrategy = hostWait, SendTimeout = timeout });
            return new RpmsgPair(region, hostBell, remoteBell, host, remote);
        }
        catch
        {
            remote?.Dispose();
            hostBell?.Dispose();
            remoteBell?.Dispose();
            region.Dispose();
            throw;
        }
    }

    /// <summary>Starts both sides and waits (bounded) until the link is up.</summary>
    /// <exception cref="TimeoutException">The remote did not see the host's DRIVER_OK within 30 s.</exception>
    public void Start()
    {
        Remote.Start();
        Host.Start();
        if (Remote.Options.WaitStrategy == RpmsgWaitStrategy.CallerPoll)
            Remote.Poll();
        else if (!Remote.WaitForLinkUp(TimeSpan.FromSeconds(30)))
            throw new TimeoutException($"rpmsg pair '{Remote.Name}': link did not come up within 30 s\n{Remote.Dump()}");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Host.Dispose();
        Remote.Dispose();
        _hostDoorbell.Dispose();
        _remoteDoorbell.Dispose();
        _region.Dispose();
    }
}
