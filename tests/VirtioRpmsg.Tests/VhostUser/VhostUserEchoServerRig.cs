using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.VhostUser;

namespace VirtioRpmsg.Tests.VhostUser;

/// <summary>
/// A vhost-user rpmsg server whose every device serves "rpmsg-echo", recording the devices it created and
/// why each was removed (with "NOT STOPPED: " when a device was handed over still running).
/// </summary>
internal sealed class VhostUserEchoServerRig : IDisposable
{
    internal static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    public readonly List<RpmsgDevice> Created = [];
    public readonly List<string> Removed = [];
    public readonly VhostUserRpmsgServer Server;

    /// <summary>Why the last guest's connection ended (null while none has).</summary>
    public volatile string? EndReason;

    public VhostUserEchoServerRig(string name, bool eventIndex = true, Action<VhostUserRpmsgOptions>? configure = null)
    {
        var options = new VhostUserRpmsgOptions
        {
            Device = new RpmsgDeviceOptions { Name = "vhost-remote", EventIndex = eventIndex, SendTimeout = Wait },
            DeviceCreated = device =>
            {
                lock (Created)
                    Created.Add(device);
                device.CreateNamedEndpoint("rpmsg-echo", RpmsgAddress.Any, (ept, source, payload) => ept.SendTo(source, payload, Wait));
            },
            DeviceRemoved = (device, reason) =>
            {
                // Recorded with the state the device was handed over in: it must already be stopped.
                lock (Removed)
                    Removed.Add(device.State == RpmsgDeviceState.Stopped ? reason : "NOT STOPPED: " + reason);
            },
            GuestDisconnected = (_, _, reason) => EndReason = reason,
        };
        configure?.Invoke(options);
        Server = new VhostUserRpmsgServer("@vrpmsg-vhost-" + name + "-" + Guid.NewGuid().ToString("N"), options);
    }

    public void Dispose() => Server.Dispose();
}
