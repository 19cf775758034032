using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.DeviceMemory;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// An ADDR_ANY carveout of a firmware's table is allocated from the resource table's region, which is where that
/// firmware was just loaded: the allocation must keep clear of the loaded image (Linux allocates it from memory no
/// firmware segment occupies), or the firmware's heap lands on its own code and data.
/// </summary>
public sealed class FirmwareCarveoutPlacementTests : IDisposable
{
    private const int ImageSize = 0x3000; // the firmware image: [0, 0x3000) of the table's region, its table at 0

    private readonly string _firmware = Path.Combine(Path.GetTempPath(), "vrpmsg-test-fw-" + Guid.NewGuid().ToString("N") + ".elf");

    public void Dispose() => File.Delete(_firmware);

    [Fact]
    public void Start_FirmwareTableAddrAnyCarveout_AllocatedClearOfTheLoadedImage()
    {
        var table = new ResourceTableBuilder()
            .AddCarveout(ResourceTable.AddrAny, ResourceTable.AddrAny, 0x1000, 0, "heap")
            .AddVdev(RpmsgFeatures.VirtioDeviceId, 0, RpmsgFeatures.NameService, 0, 0,
                [new VringSpec(0x4000, 0x1000, 256, 0, 0), new VringSpec(0x8000, 0x1000, 256, 1, 0)])
            .Build();
        var image = new byte[ImageSize];
        table.CopyTo(image, 0);
        File.WriteAllBytes(_firmware, new ElfTestBuilder(is64: false)
            .AddSegment(0x0, image, ImageSize)
            .AddSectionInSegment(ElfImage.ResourceTableSectionName, 0, 0, table.Length)
            .Build().Bytes);
        using var platform = PlatformResources.Open(PlatformDescription.Parse(PlatformTestJson.Valid), new PlatformOpenOptions { ReadResourceTable = false });
        CarveoutEntry? atStart = null;
        var control = new StartRecorder(() =>
        {
            using var lease = platform.ResourceTableRegion!.Acquire();
            atStart = ResourceTable.Parse(SharedBytes.Read(lease, 0, table.Length)).Carveouts.Single();
        });
        using var processor = new RemoteProcessor(platform, control, new RemoteProcessorOptions
        {
            FirmwarePath = _firmware,
            BootTimeout = TimeSpan.FromMilliseconds(300),
            DoorbellFactory = () => LoopbackDoorbell.CreatePair().First,
        });

        processor.Start();

        Assert.NotNull(atStart);
        Assert.NotEqual(ResourceTable.AddrAny, atStart!.DeviceAddress);
        Assert.True(atStart.DeviceAddress >= ImageSize,
            $"carveout 'heap' allocated at 0x{atStart.DeviceAddress:X}, inside the firmware image just loaded at [0x0, 0x{ImageSize:X})");
        processor.Stop();
    }

    private sealed class StartRecorder(Action onStart) : IRemoteProcessorControl
    {
        public string Name => "recording";
        public string? FirmwareName { get; set; }
        public RemoteControlState State { get; private set; } = RemoteControlState.Offline;
        public bool CanInjectCrash => false;

        public void Start()
        {
            onStart();
            State = RemoteControlState.Running;
        }

        public void Stop() => State = RemoteControlState.Offline;
        public void Detach() => State = RemoteControlState.Detached;
        public void Attach() => State = RemoteControlState.Attached;
        public void InjectCrash() => throw new NotSupportedException();
    }
}
