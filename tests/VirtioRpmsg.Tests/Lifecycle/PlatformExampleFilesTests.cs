using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>The example descriptions shipped in docs/platforms load, and match the built-in ones they document.</summary>
public class PlatformExampleFilesTests
{
    private static string[] FileNames() =>
        [.. Directory.GetFiles(PlatformTestJson.ExamplesDirectory(), "*.json").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal)];

    public static TheoryData<string> ExampleFiles() => new(FileNames());

    [Theory]
    [MemberData(nameof(ExampleFiles))]
    public void Load_ExampleFile_IsValid(string file)
    {
        var d = PlatformDescription.Load(Path.Combine(PlatformTestJson.ExamplesDirectory(), file));

        Assert.NotEmpty(d.Regions);
    }

    [Fact]
    public void ExampleFiles_IncludeEveryDocumentedMachine() =>
        Assert.Subset(FileNames().ToHashSet(),
            new HashSet<string> { "simulated.json", "openamp-linux-host.json", "openamp-linux-remote.json", "uio-board-example.json" });

    [Theory]
    [InlineData("openamp-linux-host.json", PlatformRole.Host)]
    [InlineData("openamp-linux-remote.json", PlatformRole.Remote)]
    public void Load_OpenAmpExample_EqualsOpenAmpLinux(string file, PlatformRole role)
    {
        var d = PlatformDescription.Load(Path.Combine(PlatformTestJson.ExamplesDirectory(), file));

        Assert.Equal(PlatformDescription.OpenAmpLinux(role).ToJson(), d.ToJson());
    }

    [Fact]
    public void Load_SimulatedExample_EqualsSimulatedPlatformDescription()
    {
        var d = PlatformDescription.Load(Path.Combine(PlatformTestJson.ExamplesDirectory(), "simulated.json"));

        Assert.Equal(SimulatedPlatform.Description("/dev/shm/vrpmsg-sim.shm").ToJson(), d.ToJson());
    }

    [Fact]
    public void Load_UioExample_DescribesUioRegionsAndMailbox()
    {
        var d = PlatformDescription.Load(Path.Combine(PlatformTestJson.ExamplesDirectory(), "uio-board-example.json"));

        Assert.Equal([PlatformRegionKind.Uio, PlatformRegionKind.Uio, PlatformRegionKind.DevMem], d.Regions.Select(r => r.Kind));
        Assert.Equal(PlatformDoorbellKind.Uio, d.Doorbell.Kind);
        Assert.Equal("mbox", d.Doorbell.Mailbox!.Region);
        Assert.Null(d.Vdev.Vring0Address);
    }
}
