using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Re-review of the detach-time table restore: the table a detach writes back must be the one the remote presented,
/// also after an attach-mode recovery (Linux's rproc_attach_recovery is __rproc_detach, which writes the clean table
/// back, then __rproc_attach). Captured at the re-attach from memory the previous session had written into, the
/// "presented" table held the host's choices (vring addresses, notify ids, acked features), and every later detach
/// left them for the next host.
/// </summary>
public sealed class RereviewPresentedTableReviewTests : IDisposable
{
    private const uint FirmwareNotifyId0 = 7, FirmwareNotifyId1 = 9;

    private readonly string _path = SimulatedRemoteRig.NewShmPath();

    public void Dispose() => File.Delete(_path);

    private static byte[] Table() => new ResourceTableBuilder()
        .AddVdev(RpmsgFeatures.VirtioDeviceId, 0, RpmsgFeatures.NameService, 0, 0,
            [new VringSpec(ResourceTable.AddrAny, 0x1000, 256, FirmwareNotifyId0, ResourceTable.AddrAny),
             new VringSpec(ResourceTable.AddrAny, 0x1000, 256, FirmwareNotifyId1, ResourceTable.AddrAny)])
        .Build();

    private byte[] TableInFile(int length)
    {
        using var file = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var bytes = new byte[length];
        file.ReadExactly(bytes);
        return bytes;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void AttachModeRecoveryThenDetach_TableAsTheRemotePresentedIt(int crashes)
    {
        var presented = Table();
        using var platform = PlatformResources.Open(SimulatedRemoteRig.Description(_path), new PlatformOpenOptions { ReadResourceTable = false });
        using (var lease = platform.ResourceTableRegion!.Acquire())
            lease.WriteBytes(platform.ResourceTableOffset, presented);
        using var processor = new RemoteProcessor(platform, new AttachedControl(), new RemoteProcessorOptions
        {
            BootTimeout = TimeSpan.FromMilliseconds(300),
            RecoveryMode = RemoteRecoveryMode.Attach,
            DoorbellFactory = () => LoopbackDoorbell.CreatePair().First,
        });
        processor.Attach();
        for (int i = 0; i < crashes; i++)
        {
            processor.ReportCrash("heartbeat missed " + i);
            processor.Recover();
            Assert.Equal(RemoteProcessorState.Running, processor.State);
            // The host chose again, as at the first attach (the table it attached to was the clean one).
            var live = ResourceTable.Parse(TableInFile(presented.Length)).GetRpmsgVdev();
            Assert.Equal((0x4000u, 0u, 1u), (live.Vrings[0].DeviceAddress, live.Vrings[0].NotifyId, live.Vrings[1].NotifyId));
        }

        processor.Detach();

        var after = ResourceTable.Parse(TableInFile(presented.Length)).GetRpmsgVdev();
        Assert.Equal(
            (ResourceTable.AddrAny, ResourceTable.AddrAny, FirmwareNotifyId0, FirmwareNotifyId1, 0u, (byte)0),
            (after.Vrings[0].DeviceAddress, after.Vrings[1].DeviceAddress, after.Vrings[0].NotifyId, after.Vrings[1].NotifyId, after.GuestFeatures, after.Status));
        Assert.Equal(presented, TableInFile(presented.Length));
    }

    // An attach the control refused (the kernel's EBUSY, a transient) after the host had written into the table (it
    // chose the ADDR_ANY vrings' addresses and numbered them) left those writes there: the retried attach took them as
    // what the remote presented, and its detach "restored" them.
    [Fact]
    public void AttachRefusedThenRetried_DetachRestoresTheTableTheRemotePresented()
    {
        var presented = Table();
        using var platform = PlatformResources.Open(SimulatedRemoteRig.Description(_path), new PlatformOpenOptions { ReadResourceTable = false });
        using (var lease = platform.ResourceTableRegion!.Acquire())
            lease.WriteBytes(platform.ResourceTableOffset, presented);
        var control = new AttachedControl { RefuseAttaches = 1 };
        using var processor = new RemoteProcessor(platform, control, new RemoteProcessorOptions
        {
            BootTimeout = TimeSpan.FromMilliseconds(300),
            DoorbellFactory = () => LoopbackDoorbell.CreatePair().First,
        });
        var refused = Assert.Throws<IOException>(processor.Attach);
        Assert.Contains("attach refused", refused.Message);
        Assert.Equal(presented, TableInFile(presented.Length)); // nothing of the refused attach's is left

        processor.Attach();
        processor.Detach();

        Assert.Equal(presented, TableInFile(presented.Length));
    }

    /// <summary>A remote someone else booted: attach and detach only flip the state.</summary>
    private sealed class AttachedControl : IRemoteProcessorControl
    {
        public int RefuseAttaches { get; set; }
        public string Name => "attached";
        public string? FirmwareName { get; set; }
        public RemoteControlState State { get; private set; } = RemoteControlState.Detached;
        public bool CanInjectCrash => false;
        public void Start() => State = RemoteControlState.Running;
        public void Stop() => State = RemoteControlState.Offline;
        public void Detach() => State = RemoteControlState.Detached;
        public void Attach()
        {
            if (RefuseAttaches-- > 0)
                throw new IOException("attach refused (test)");
            State = RemoteControlState.Attached;
        }
        public void InjectCrash() => throw new NotSupportedException();
    }
}
