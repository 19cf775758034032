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

    // Review (recovery2, item 2): the application registers the name on vdev 1's device directly while the processor's
    // RegisterDriver runs (pinned between its own check and the devices'). It used to check every device, then register on
    // each: vdev 1 refused, and the driver stayed bound on vdev 0 and kept for every later session although RegisterDriver
    // threw. Now the devices are checked and given the driver at once: nothing is registered, and a registration after a
    // recovery binds the service once on each new vdev.
    [Fact]
    public void RegisterDriver_ApplicationRegistersOnVdev1Meanwhile_RegistersNothing_AfterRecoveryBoundOnceOnEachNewVdev()
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
            var first = rp.Devices.ToArray();
            rp.DriverRegistering = () => first[1].RegisterDriver(new RpmsgServiceDriver(MultiVdevRemoteControl.ServiceName));

            Assert.Throws<ArgumentException>(() => rp.RegisterDriver(new RpmsgServiceDriver(MultiVdevRemoteControl.ServiceName)));
            rp.DriverRegistering = null;

            Assert.False(first[0].HasDriver(MultiVdevRemoteControl.ServiceName), "the refused registration left its driver on vdev 0");
            rp.ReportCrash("recovery2 item 2");
            rp.Recover();
            var second = rp.Devices.ToArray();
            Assert.All(second, d => Assert.False(d.HasDriver(MultiVdevRemoteControl.ServiceName), $"the refused driver was registered on the new device {d.Name}"));

            // Registered now: bound on each new vdev, once, and again on each device of the next session only.
            var probed = new System.Collections.Concurrent.ConcurrentQueue<RpmsgChannel>();
            rp.RegisterDriver(new RpmsgServiceDriver(MultiVdevRemoteControl.ServiceName) { Probe = probed.Enqueue });
            for (int session = 0; session < 2; session++)
            {
                var devices = rp.Devices.ToArray();
                for (int v = 0; v < devices.Length; v++)
                    Assert.Same(devices[v], rp.WaitForChannel(MultiVdevRemoteControl.ServiceName, v, Bound).Device);
                Assert.Equal(devices.Length * (session + 1), probed.Count);
                Assert.All(devices, d => Assert.Single(probed, c => ReferenceEquals(c.Device, d)));
                Assert.All(devices, d => Assert.Single(d.Channels, c => c.Name == MultiVdevRemoteControl.ServiceName));
                if (session == 0)
                {
                    rp.ReportCrash("recovery2 item 2, again");
                    rp.Recover();
                }
            }
            rp.Stop();
        }
        finally
        {
            File.Delete(path);
        }
    }
}
