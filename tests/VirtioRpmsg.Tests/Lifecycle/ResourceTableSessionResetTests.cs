using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// What the host leaves in a running remote's resource table when it lets go. Linux keeps an untouched copy of the
/// table it attached to (rproc_set_rsc_table_on_attach) and writes it back on detach (rproc_reset_rsc_table_on_detach),
/// so the next attach (another host, another description) finds the table as the remote presented it: ADDR_ANY vrings
/// still ADDR_ANY, the firmware's notify ids, no features acked. Also: a fixed vring da with pa = ADDR_ANY is taken as
/// Linux takes it (only da is used and written; pa is left as the firmware wrote it).
/// </summary>
public sealed class ResourceTableSessionResetTests : IDisposable
{
    private const uint FirmwareNotifyId0 = 7, FirmwareNotifyId1 = 9;

    private readonly string _path = SimulatedRemoteRig.NewShmPath();

    public void Dispose() => File.Delete(_path);

    private static byte[] Table(uint da0, uint pa0, uint da1, uint pa1) => new ResourceTableBuilder()
        .AddVdev(RpmsgFeatures.VirtioDeviceId, 0, RpmsgFeatures.NameService, 0, 0,
            [new VringSpec(da0, 0x1000, 256, FirmwareNotifyId0, pa0), new VringSpec(da1, 0x1000, 256, FirmwareNotifyId1, pa1)])
        .Build();

    private (PlatformResources Platform, RemoteProcessor Processor, AttachedControl Control) Open(byte[] table)
    {
        var platform = PlatformResources.Open(SimulatedRemoteRig.Description(_path), new PlatformOpenOptions { ReadResourceTable = false });
        // The remote is running already and has written its table (version last, as a remote does).
        using (var lease = platform.ResourceTableRegion!.Acquire())
            lease.WriteBytes(platform.ResourceTableOffset, table);
        var control = new AttachedControl();
        var processor = new RemoteProcessor(platform, control, new RemoteProcessorOptions
        {
            BootTimeout = TimeSpan.FromMilliseconds(300),
            DoorbellFactory = () => LoopbackDoorbell.CreatePair().First,
        });
        return (platform, processor, control);
    }

    private byte[] TableInFile(int length)
    {
        using var file = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var bytes = new byte[length];
        file.ReadExactly(bytes);
        return bytes;
    }

    [Fact]
    public void AttachThenDetach_TableAsTheRemotePresentedIt_AddrAnyAndFirmwareNotifyIdsBack()
    {
        var presented = Table(ResourceTable.AddrAny, ResourceTable.AddrAny, ResourceTable.AddrAny, ResourceTable.AddrAny);
        var (platform, processor, _) = Open(presented);
        using (platform)
        using (processor)
        {
            processor.Attach();
            var attached = ResourceTable.Parse(TableInFile(presented.Length)).GetRpmsgVdev();
            Assert.Equal(0x4000u, attached.Vrings[0].DeviceAddress); // the host chose (the description's address)
            Assert.Equal(0u, attached.Vrings[0].NotifyId); // and numbered the vrings

            processor.Detach();

            var after = ResourceTable.Parse(TableInFile(presented.Length)).GetRpmsgVdev();
            Assert.Equal(
                (ResourceTable.AddrAny, ResourceTable.AddrAny, FirmwareNotifyId0, FirmwareNotifyId1, 0u, (byte)0),
                (after.Vrings[0].DeviceAddress, after.Vrings[1].DeviceAddress, after.Vrings[0].NotifyId, after.Vrings[1].NotifyId, after.GuestFeatures, after.Status));
            Assert.Equal(presented, TableInFile(presented.Length));
        }
    }

    [Fact]
    public void DetachThenAttachAgain_HostChoosesAfreshAndRuns()
    {
        var presented = Table(ResourceTable.AddrAny, ResourceTable.AddrAny, ResourceTable.AddrAny, ResourceTable.AddrAny);
        var (platform, processor, _) = Open(presented);
        using (platform)
        using (processor)
        {
            processor.Attach();
            processor.Detach();

            processor.Attach();

            Assert.Equal(RemoteProcessorState.Running, processor.State);
            var again = ResourceTable.Parse(TableInFile(presented.Length)).GetRpmsgVdev();
            Assert.Equal((0x4000u, 0x8000u, 0u, 1u), (again.Vrings[0].DeviceAddress, again.Vrings[1].DeviceAddress, again.Vrings[0].NotifyId, again.Vrings[1].NotifyId));
            processor.Detach();
        }
    }

    [Fact]
    public void Attach_FixedDaWithPaAddrAny_DaUsedAndPaLeftAsWritten()
    {
        var presented = Table(0x4000, ResourceTable.AddrAny, 0x8000, ResourceTable.AddrAny);
        var (platform, processor, _) = Open(presented);
        using (platform)
        using (processor)
        {
            processor.Attach();

            Assert.Equal((0x4000ul, 0x8000ul), (platform.Vring0Address, platform.Vring1Address));
            var live = ResourceTable.Parse(TableInFile(presented.Length)).GetRpmsgVdev();
            // Linux writes a vring's da (rp_find_vq) and notifyid, never its pa.
            Assert.Equal((0x4000u, ResourceTable.AddrAny, 0x8000u, ResourceTable.AddrAny),
                (live.Vrings[0].DeviceAddress, live.Vrings[0].PhysicalAddress, live.Vrings[1].DeviceAddress, live.Vrings[1].PhysicalAddress));
            Assert.Equal(RemoteProcessorState.Running, processor.State);
        }
    }

    /// <summary>A remote someone else booted: attach and detach only flip the state.</summary>
    private sealed class AttachedControl : IRemoteProcessorControl
    {
        public string Name => "attached";
        public string? FirmwareName { get; set; }
        public RemoteControlState State { get; private set; } = RemoteControlState.Detached;
        public bool CanInjectCrash => false;
        public void Start() => State = RemoteControlState.Running;
        public void Stop() => State = RemoteControlState.Offline;
        public void Detach() => State = RemoteControlState.Detached;
        public void Attach() => State = RemoteControlState.Attached;
        public void InjectCrash() => throw new NotSupportedException();
    }

}
