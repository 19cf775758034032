using System.Buffers.Binary;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Tests.DeviceMemory;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// Booting with a firmware image: what the host does with the image's resource table before it powers
/// the remote on. Like Linux's rproc_fw_boot, a firmware whose table is bad must be refused with the remote
/// still off, naming the field; and a firmware without a .resource_table section keeps every byte it loads.
/// </summary>
public sealed class RemoteProcessorFirmwareTests : IDisposable
{
    private readonly string _firmware = Path.Combine(Path.GetTempPath(), "vrpmsg-test-fw-" + Guid.NewGuid().ToString("N") + ".elf");

    public void Dispose() => File.Delete(_firmware);

    /// <summary>The test description's host platform (one anonymous region, table at 0), its table not read yet.</summary>
    private static PlatformResources HostPlatform() =>
        PlatformResources.Open(PlatformDescription.Parse(PlatformTestJson.Valid), new PlatformOpenOptions { ReadResourceTable = false });

    private RemoteProcessor Processor(PlatformResources platform, RecordingControl control) => new(platform, control, new RemoteProcessorOptions
    {
        FirmwarePath = _firmware,
        BootTimeout = TimeSpan.FromMilliseconds(300),
        DoorbellFactory = () => LoopbackDoorbell.CreatePair().First,
    });

    private void WriteFirmware(byte[] table, string sectionName = ElfImage.ResourceTableSectionName)
    {
        var image = new ElfTestBuilder(is64: false)
            .AddSegment(0x0, table, (ulong)table.Length)
            .AddSectionInSegment(sectionName, 0, 0, table.Length)
            .Build();
        File.WriteAllBytes(_firmware, image.Bytes);
    }

    [Fact]
    public void Start_FirmwareTableWithBadVersion_ThrowsNamingVersionWithoutStartingRemote()
    {
        byte[] table = ResourceTableBuilder.BuildOpenAmpLinux();
        BinaryPrimitives.WriteUInt32LittleEndian(table, 2);
        AssertRefusedBeforeTheRemoteStarts(table, "ver", 2);
    }

    [Fact]
    public void Start_FirmwareTableVringNumNotPowerOfTwo_ThrowsNamingNumWithoutStartingRemote()
    {
        var table = new ResourceTableBuilder()
            .AddVdev(7, 0, 1, 0, 0, [new VringSpec(0x4000, 0x1000, 255, 1, 0), new VringSpec(0x8000, 0x1000, 255, 2, 0)])
            .Build();
        AssertRefusedBeforeTheRemoteStarts(table, "vring[0].num", 255);
    }

    // The firmware's table is refused naming the field and value, with the remote never started.
    private void AssertRefusedBeforeTheRemoteStarts(byte[] table, string field, ulong value)
    {
        WriteFirmware(table);
        using var platform = HostPlatform();
        var control = new RecordingControl();
        using var processor = Processor(platform, control);

        var e = Assert.Throws<ResourceTableException>(processor.Start);

        Assert.Equal(field, e.Field);
        Assert.Equal(value, e.Value);
        Assert.Equal(0, control.Starts);
        Assert.Equal(RemoteProcessorState.Offline, processor.State);
    }

    [Fact]
    public void Start_FirmwareWithoutTableSection_RemoteSeesEveryLoadedByte()
    {
        // The image loads a complete table at the table's offset, in a section not named .resource_table.
        byte[] table = ResourceTableBuilder.BuildOpenAmpLinux();
        WriteFirmware(table, ".data");
        using var platform = HostPlatform();
        byte[]? seenAtStart = null;
        var control = new RecordingControl(() =>
        {
            using var lease = platform.ResourceTableRegion!.Acquire();
            seenAtStart = SharedBytes.Read(lease, 0, table.Length);
        });
        using var processor = Processor(platform, control);

        processor.Start();

        Assert.Equal(1, control.Starts);
        Assert.Equal(table, seenAtStart);
        Assert.Equal(RemoteProcessorState.Running, processor.State);
        processor.Stop();
    }

    [Fact]
    public void Start_FirmwareTableWithAddrAnyVrings_RemoteReadsTheHostsAddressesAtBoot()
    {
        // Zephyr's and STM32Cube's tables leave vring da at ADDR_ANY ("allocated by Master processor") and read
        // the table when they boot: the host must have written the addresses before it starts the remote.
        var table = new ResourceTableBuilder()
            .AddVdev(7, 0, 1, 0, 0,
                [new VringSpec(ResourceTable.AddrAny, 0x1000, 256, 0, 0), new VringSpec(ResourceTable.AddrAny, 0x1000, 256, 1, 0)])
            .Build();
        WriteFirmware(table);
        using var rig = Simulation.SimulatedRemoteRig.Create(remote: new VirtioRpmsg.Simulation.InProcessSimulatedOptions { UseLoadedResourceTable = true }, firmwarePath: _firmware);

        rig.Processor.Start();

        rig.EchoRoundTrip(5);
        Assert.Equal((0x4000UL, 0x8000UL), (rig.Platform.Vdevs[0].Vring0Address, rig.Platform.Vdevs[0].Vring1Address));
    }

    [Fact]
    public void Start_FirmwareTable_RemoteReadsTheNotifyIdsTheHostAssignedAtBoot()
    {
        // Linux writes its own ids (from 0, table order) into the firmware's table before it starts the remote, and
        // kicks with them; the firmware's 5 and 6 must be gone by then.
        var table = new ResourceTableBuilder()
            .AddVdev(7, 3, 1, 0, 0, [new VringSpec(0x4000, 0x1000, 256, 5, 0), new VringSpec(0x8000, 0x1000, 256, 6, 0)])
            .Build();
        WriteFirmware(table);
        using var platform = HostPlatform();
        ResourceTable? seenAtStart = null;
        var control = new RecordingControl(() =>
        {
            using var lease = platform.ResourceTableRegion!.Acquire();
            seenAtStart = ResourceTable.Parse(SharedBytes.Read(lease, 0, table.Length));
        });
        using var processor = Processor(platform, control);

        processor.Start();

        var vdev = Assert.Single(seenAtStart!.Vdevs);
        Assert.Equal([0u, 1u], vdev.Vrings.Select(r => r.NotifyId));
        Assert.Equal(3u, vdev.NotifyId);
        processor.Stop();
    }

    /// <summary>A control that only records Start (the "remote" is whatever the loaded memory holds).</summary>
    private sealed class RecordingControl(Action? onStart = null) : IRemoteProcessorControl
    {
        public int Starts;

        public string Name => "recording";
        public string? FirmwareName { get; set; }
        public RemoteControlState State { get; private set; } = RemoteControlState.Offline;
        public bool CanInjectCrash => false;

        public void Start()
        {
            Starts++;
            onStart?.Invoke();
            State = RemoteControlState.Running;
        }

        public void Stop() => State = RemoteControlState.Offline;
        public void Detach() => State = RemoteControlState.Detached;
        public void Attach() => State = RemoteControlState.Attached;
        public void InjectCrash() => throw new NotSupportedException();
    }
}
