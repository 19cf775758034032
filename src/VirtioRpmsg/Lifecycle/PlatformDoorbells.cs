using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Lifecycle;

/// <summary>Creates the doorbell a <see cref="PlatformDescription"/> describes, for <see cref="PlatformResources.CreateDoorbell(int, PlatformDoorbellOptions?)"/>.</summary>
internal static class PlatformDoorbells
{
    /// <summary>Creates the doorbell <paramref name="b"/> (one vdev's, whose fields are at <paramref name="pathPrefix"/>) over <paramref name="platform"/>; see <see cref="PlatformResources.CreateDoorbell(int, PlatformDoorbellOptions?)"/>.</summary>
    internal static IDoorbell Create(PlatformResources platform, DoorbellDescription b, PlatformDoorbellOptions options, string pathPrefix = "", int vdev = 0)
    {
        switch (b.Kind)
        {
            case PlatformDoorbellKind.Eventfd:
                return CreateEventFd(platform.Role, b, options);
            case PlatformDoorbellKind.UnixSocket:
                var mode = b.Mode ?? (platform.Role == PlatformRole.Remote ? DoorbellSocketMode.Server : DoorbellSocketMode.Client);
                return mode == DoorbellSocketMode.Server
                    ? UnixSocketDoorbell.Accept(b.Path!, options.Timeout, options.CancellationToken)
                    : UnixSocketDoorbell.Connect(b.Path!, options.Timeout, options.CancellationToken);
            case PlatformDoorbellKind.Uio:
                string sysfs = b.SysfsRoot ?? UioDoorbell.DefaultSysfsRoot;
                var mailbox = b.Mailbox is { } m ? PlatformMailboxes.Create(platform, m, pathPrefix, vdev) : null;
                return UioDoorbell.Open(b.Device ?? UioDoorbell.FindDevice(b.DeviceName!, sysfs), mailbox, sysfs);
            case PlatformDoorbellKind.Polling:
                return new PollingDoorbell(options.HasWork
                    ?? throw new ArgumentException("A polling doorbell needs PlatformDoorbellOptions.HasWork (the \"has work\" predicate).", nameof(options)));
            default:
                throw new PlatformDescriptionException("doorbell.kind", b.Kind.ToString(), "unknown doorbell kind");
        }
    }

    private static IDoorbell CreateEventFd(PlatformRole role, DoorbellDescription b, PlatformDoorbellOptions options)
    {
        if (options.EventFdFactory is { } factory)
            return factory();
        if (options.Passing is { } passing)
            return ExchangeEventFd(role, passing, options);
        string name = b.Socket
            ?? throw new ArgumentException("An eventfd doorbell needs PlatformDoorbellOptions.Passing or EventFdFactory, or doorbell.socket in the description.", nameof(options));
        DescriptorPassing connection;
        if (role == PlatformRole.Host)
        {
            using var listener = DescriptorListener.Listen(name);
            connection = listener.Accept(options.Timeout, options.CancellationToken);
        }
        else
        {
            connection = DescriptorPassing.Connect(name, options.Timeout, options.CancellationToken);
        }
        try
        {
            // The doorbell keeps the connection open for its life: its close is how the peer sees this side go
            // away (a remote watches it, see SimulatedRemoteOptions.HostConnection); notify never touches it.
            var doorbell = ExchangeEventFd(role, connection, options);
            doorbell.KeepConnection(connection);
            return doorbell;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static EventFdDoorbell ExchangeEventFd(PlatformRole role, DescriptorPassing passing, PlatformDoorbellOptions options)
    {
        if (role == PlatformRole.Remote)
            return passing.ReceiveDoorbell(options.Timeout, options.CancellationToken);
        var doorbell = EventFdDoorbell.Create("platform doorbell");
        try
        {
            passing.SendDoorbell(doorbell);
            return doorbell;
        }
        catch
        {
            doorbell.Dispose();
            throw;
        }
    }
}
