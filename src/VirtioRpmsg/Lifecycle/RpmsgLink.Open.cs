using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Lifecycle;

// Opening: the checks of the description RpmsgLink adds, then the regions, doorbells and host devices, all or nothing.
public sealed partial class RpmsgLink
{
    // The description's file (when it was loaded from one) is named by every PlatformDescriptionException, as Load's
    // are: the checks RpmsgLink adds, and what opening finds (PlatformResources names its own; the devices' set-up too).
    private static Task<RpmsgLink> Start(PlatformDescription description, RpmsgLinkOptions? options, CancellationToken cancellationToken)
    {
        string? source = description.SourceFile;
        options ??= new RpmsgLinkOptions();
        options.Validate();
        if (description.Role != PlatformRole.Host)
            throw new PlatformDescriptionException("role", "\"" + description.Role.ToString().ToLowerInvariant() + "\"", "RpmsgLink opens the host side; the description must say \"role\": \"host\"", source);
        if (options.Device is null && description.WaitStrategy == PlatformWaitStrategy.CallerPoll)
            throw new PlatformDescriptionException("waitStrategy", "\"callerPoll\"",
                "RpmsgLink runs a dispatcher thread; caller-poll needs the application to call RpmsgDevice.Poll (use RpmsgDevice.CreateHost directly), or choose interrupt, hybrid or busyPoll", source);
        // Mapping and the doorbell handshake block (they may wait for the peer): off the caller's thread.
        return Task.Run(async () =>
        {
            try
            {
                return await Open(description, options, cancellationToken).ConfigureAwait(false);
            }
            catch (PlatformDescriptionException e) when (source is not null && e.Source is null)
            {
                throw e.WithSource(source);
            }
        }, cancellationToken);
    }

    private static async Task<RpmsgLink> Open(PlatformDescription description, RpmsgLinkOptions options, CancellationToken ct)
    {
        PlatformResources? platform = null;
        var doorbells = new List<IDoorbell>();
        var devices = new List<RpmsgDevice>();
        try
        {
            platform = PlatformResources.Open(description, new PlatformOpenOptions { Timeout = options.Timeout, CancellationToken = ct });
            var first = options.Device ?? new RpmsgDeviceOptions { Name = options.Name, WaitStrategy = (RpmsgWaitStrategy)description.WaitStrategy };
            // Vdev 0 keeps the given name; the others are told apart in logs and metrics by a suffix.
            var deviceOptions = Enumerable.Range(0, platform.Vdevs.Count).Select(i => i == 0 ? first : first.WithName($"{first.Name}.vdev{i}")).ToArray();
            for (int i = 0; i < platform.Vdevs.Count; i++)
            {
                doorbells.Add(platform.CreateDoorbell(i, new PlatformDoorbellOptions { Timeout = options.Timeout, CancellationToken = ct }));
                devices.Add(RpmsgDevice.CreateHost(platform.CreateRpmsgLayout(i), platform.CreateVdevControl(i), doorbells[i], deviceOptions[i]));
            }
            var link = new RpmsgLink(platform, [.. doorbells], [.. devices], deviceOptions, options);
            foreach (var device in devices)
                device.Start();
            foreach (var device in devices)
                await WaitForLinkUp(device, options.Timeout, ct).ConfigureAwait(false);
            return link;
        }
        catch
        {
            for (int i = devices.Count - 1; i >= 0; i--)
                devices[i].Dispose();
            for (int i = doorbells.Count - 1; i >= 0; i--)
                doorbells[i].Dispose();
            platform?.Dispose();
            throw;
        }
    }
}
