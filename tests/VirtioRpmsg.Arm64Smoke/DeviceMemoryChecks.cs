using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Arm64Smoke;

/// <summary>
/// Device-memory accessors and system-strength barriers on ARM64 code: the aligned copy loops give the same
/// bytes as Normal memory, and a whole remote-processor lifecycle runs with "memory": "device" and
/// "barriers": "system" (so the shim's dmb oshst / dmb oshld / dsb sy really execute).
/// </summary>
public static class DeviceMemoryChecks
{
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(60);

    public static IEnumerable<SmokeCheck> All()
    {
        yield return new("Device memory: aligned copies, fills and split accessors match Normal memory at every offset", CopiesMatchNormal);
        yield return new("Device memory: a remote processor with device memory and system barriers starts, echoes and stops", LifecycleOnDeviceMemory);
    }

    private static void CopiesMatchNormal()
    {
        using var normal = SharedMemoryRegion.CreateAnonymous(4096);
        using var device = SharedMemoryRegion.CreateAnonymous(4096, memoryType: SharedMemoryType.Device);
        var data = new byte[300];
        new Random(8).NextBytes(data);
        for (int offset = 0; offset < 24; offset++)
        {
            for (int length = 0; length < 40; length += 3)
            {
                foreach (var region in new[] { normal, device })
                {
                    using var lease = region.Acquire();
                    lease.WriteBytes(offset * 100, data.AsSpan(0, length + 200));
                    lease.Fill(3000 + offset, length, (byte)offset);
                    lease.WriteUInt64(3500 + offset, 0x0102_0304_0506_0708UL * (ulong)(offset + 1));
                }
            }
        }
        using var a = normal.Acquire();
        using var b = device.Acquire();
        Expect.True(b.IsDeviceMemory, "declared Device memory uses the aligned accessors");
        var x = new byte[4096];
        var y = new byte[4096];
        a.ReadBytes(0, x);
        b.ReadBytes(0, y);
        Expect.True(x.AsSpan().SequenceEqual(y), "the Device-memory region holds the same bytes as the Normal one");
        for (int offset = 0; offset < 24; offset++)
            Expect.Equal(a.ReadUInt64(3500 + offset), b.ReadUInt64(3500 + offset), $"split u64 at 3500+{offset}");
    }

    private static void LifecycleOnDeviceMemory()
    {
        string path = "/dev/shm/vrpmsg-test-smoke-devmem-" + Guid.NewGuid().ToString("N");
        try
        {
            var open = PlatformDescription.OpenAmpLinux(PlatformRole.Host);
            var description = open with
            {
                Regions = [open.Regions[0] with { Path = path, Memory = PlatformMemoryType.Device }],
                Doorbell = new DoorbellDescription { Kind = PlatformDoorbellKind.Polling },
                Barriers = PlatformBarriers.System,
            };
            using var platform = PlatformResources.Open(description, new PlatformOpenOptions { ReadResourceTable = false });
            Expect.Equal(SharedMemoryType.Device, platform.Regions[0].MemoryType, "memory type from the description");
            Expect.Equal(BarrierDomain.System, platform.Regions[0].Barriers, "barriers from the description");
            using var control = new InProcessSimulatedControl(description);
            using var processor = new RemoteProcessor(platform, control, new RemoteProcessorOptions
            {
                DeviceOptions = new RpmsgDeviceOptions { Name = "smoke-devmem", SendTimeout = Step },
            });
            processor.RegisterDriver(new RpmsgServiceDriver(SimulatedRemote.EchoServiceName));
            processor.Start();
            RpmsgChecks.EchoRoundTrips(processor.WaitForChannel(SimulatedRemote.EchoServiceName, Step), 100);
            processor.Stop();
        }
        finally
        {
            File.Delete(path);
        }
    }
}
