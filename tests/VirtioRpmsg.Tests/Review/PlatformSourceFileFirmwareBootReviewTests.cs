using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Lifecycle;
using VirtioRpmsg.Tests.Memory;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// A description loaded from a file names the file in what opening finds wrong "wherever it is opened"
/// (docs/platform-description.md): RemoteProcessor's firmware boot reads the firmware's table through the internal
/// LoadResourceTableClearOf, which the public LoadResourceTable's naming did not cover, so a table that contradicts
/// the description named no file there.
/// </summary>
public sealed class PlatformSourceFileFirmwareBootReviewTests
{
    [Fact]
    public void RemoteProcessorStart_FirmwareTableContradictsALoadedDescription_NamesTheFile()
    {
        using var files = new TestFiles();
        string board = files.PathOf("board.json");
        File.WriteAllText(board, PlatformTestJson.Valid); // vring0Address 0x4000
        // The firmware's table puts vring 0 at 0x5000.
        var table = new ResourceTableBuilder()
            .AddVdev(RpmsgFeatures.VirtioDeviceId, 0, RpmsgFeatures.NameService, 0, 0,
                [new VringSpec(0x5000, 0x1000, 256, 0, 0), new VringSpec(0x8000, 0x1000, 256, 1, 0)])
            .Build();
        var image = new byte[0x1000];
        table.CopyTo(image, 0);
        string firmware = files.PathOf("fw.elf");
        File.WriteAllBytes(firmware, new ElfTestBuilder(is64: false)
            .AddSegment(0x0, image, 0x1000)
            .AddSectionInSegment(ElfImage.ResourceTableSectionName, 0, 0, table.Length)
            .Build().Bytes);
        using var platform = PlatformResources.Open(PlatformDescription.Load(board), new PlatformOpenOptions { ReadResourceTable = false });
        using var processor = new RemoteProcessor(platform, new OfflineControl(), new RemoteProcessorOptions
        {
            FirmwarePath = firmware,
            BootTimeout = TimeSpan.FromMilliseconds(300),
            DoorbellFactory = () => LoopbackDoorbell.CreatePair().First,
        });

        var e = Assert.Throws<PlatformDescriptionException>(processor.Start);

        Assert.Equal("vdev.vring0Address", e.JsonPath);
        Assert.Equal(Path.GetFullPath(board), e.Source);
    }

    private sealed class OfflineControl : IRemoteProcessorControl
    {
        public string Name => "offline";
        public string? FirmwareName { get; set; }
        public RemoteControlState State { get; private set; } = RemoteControlState.Offline;
        public bool CanInjectCrash => false;
        public void Start() => State = RemoteControlState.Running;
        public void Stop() => State = RemoteControlState.Offline;
        public void Detach() => State = RemoteControlState.Detached;
        public void Attach() => State = RemoteControlState.Attached;
        public void InjectCrash() => throw new NotSupportedException();
    }
}
