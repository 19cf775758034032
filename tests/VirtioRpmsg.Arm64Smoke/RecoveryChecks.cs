using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Arm64Smoke;

/// <summary>
/// Recovery: a <see cref="RemoteProcessor"/> over a /dev/shm file and an in-process simulated remote;
/// start, echo, report a crash, recover, echo again, for a few cycles. Each recovery unmaps and remaps
/// the shared memory and rebuilds the rpmsg device, so the lease/unmap fencing runs for real.
/// </summary>
public static class RecoveryChecks
{
    private const int Cycles = 3;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    public static IEnumerable<SmokeCheck> All()
    {
        yield return new($"Recovery: RemoteProcessor start, then {Cycles} x (crash, recover, echo); channel re-bound each time", CrashAndRecover);
    }

    private static void CrashAndRecover()
    {
        string path = $"/dev/shm/vrpmsg-test-smoke-rproc-{Environment.ProcessId}.shm";
        var baseline = PlatformDescription.OpenAmpLinux(PlatformRole.Host);
        var description = baseline with
        {
            Regions = [baseline.Regions[0] with { Path = path }],
            Doorbell = new DoorbellDescription { Kind = PlatformDoorbellKind.Polling },
        };
        try
        {
            using var platform = PlatformResources.Open(description, new PlatformOpenOptions { ReadResourceTable = false });
            using var control = new InProcessSimulatedControl(description);
            using var processor = new RemoteProcessor(platform, control, new RemoteProcessorOptions
            {
                BootTimeout = Bound,
                DeviceOptions = new RpmsgDeviceOptions { Name = "smoke-rproc", SendTimeout = Bound },
            });
            processor.RegisterDriver(new RpmsgServiceDriver(SimulatedRemote.EchoServiceName));
            processor.Start();
            Expect.Equal(RemoteProcessorState.Running, processor.State, "state after start");
            RpmsgChecks.EchoRoundTrips(processor.WaitForChannel(SimulatedRemote.EchoServiceName, Bound), 20);
            for (int cycle = 1; cycle <= Cycles; cycle++)
            {
                processor.ReportCrash($"smoke cycle {cycle}");
                Expect.Equal(RemoteProcessorState.Crashed, processor.State, $"state after crash {cycle}");
                processor.Recover();
                Expect.Equal(RemoteProcessorState.Running, processor.State, $"state after recovery {cycle}");
                RpmsgChecks.EchoRoundTrips(processor.WaitForChannel(SimulatedRemote.EchoServiceName, Bound), 20);
            }
            Expect.Equal(Cycles, processor.CrashCount, "crash count");
            Expect.Equal(Cycles, processor.RecoveryCount, "recovery count");
            Expect.Equal(Cycles + 1, control.BootCount, "boots of the simulated remote");
            processor.Stop();
            Expect.Equal(RemoteProcessorState.Stopped, processor.State, "state after stop");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
