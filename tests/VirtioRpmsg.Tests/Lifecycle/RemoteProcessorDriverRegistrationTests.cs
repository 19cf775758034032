using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// <see cref="RemoteProcessor.RegisterDriver"/> with a device that refuses the driver (the application registered the
/// name on that device directly): nothing is registered anywhere, not on the devices before it, nor kept for the next
/// session's devices.
/// </summary>
public class RemoteProcessorDriverRegistrationTests
{
    private static readonly TimeSpan Bound = SimulatedRemoteRig.Bound;

    [Fact]
    public void RegisterDriver_RefusedByTheSecondVdevsDevice_RegistersNothing_FirstVdevLeavesTheServiceUnbound()
    {
        string path = SimulatedRemoteRig.NewShmPath();
        try
        {
            var description = MultiVdevRemoteControl.HostDescription(path);
            using var platform = PlatformResources.Open(description, new PlatformOpenOptions { ReadResourceTable = false });
            using var control = new MultiVdevRemoteControl(description);
            using var rp = new RemoteProcessor(platform, control, new RemoteProcessorOptions
            {
                DeviceOptions = new RpmsgDeviceOptions { Name = "reg-host", SendTimeout = Bound },
            });
            rp.Start();
            // The application's own driver for the service, on vdev 1's device only.
            rp.Devices[1].RegisterDriver(new RpmsgServiceDriver(MultiVdevRemoteControl.ServiceName));

            Assert.Throws<ArgumentException>(() => rp.RegisterDriver(new RpmsgServiceDriver(MultiVdevRemoteControl.ServiceName)));
            // Not kept by the processor: the same registration is refused again because of vdev 1's device, not because
            // the processor holds the first one.
            var again = Assert.Throws<ArgumentException>(() => rp.RegisterDriver(new RpmsgServiceDriver(MultiVdevRemoteControl.ServiceName)));
            Assert.DoesNotContain("already registered on remote processor", again.Message, StringComparison.Ordinal);
            Assert.Contains("(vdev 1)", again.Message, StringComparison.Ordinal);
            // Not registered on vdev 0's device: the remote's announcement there stays unbound.
            Assert.True(SpinWait.SpinUntil(() => rp.Devices[0].UnboundServiceCount == 1, Bound),
                $"vdev 0 bound '{MultiVdevRemoteControl.ServiceName}': the refused registration left its driver there");
            Assert.DoesNotContain(rp.Devices[0].Channels, c => c.Name == MultiVdevRemoteControl.ServiceName);
            Assert.NotNull(rp.WaitForChannel(MultiVdevRemoteControl.ServiceName, 1, Bound));
            rp.Stop();
        }
        finally
        {
            File.Delete(path);
        }
    }
}
