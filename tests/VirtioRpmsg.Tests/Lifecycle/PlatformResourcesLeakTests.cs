using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Tests.Platform;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// A failed Open releases everything it had opened, and Dispose releases everything: checked by
/// counting this process's descriptors (/proc/self/fd) and the mappings of the test's own regions
/// (/proc/self/maps lines naming them).
/// </summary>
[Collection(DescriptorCountCollection.Name)]
public class PlatformResourcesLeakTests : IDisposable
{
    private readonly string _marker = "vrpmsg-test-leak-" + Guid.NewGuid().ToString("N");
    private readonly string _shm;

    public PlatformResourcesLeakTests()
    {
        _shm = "/dev/shm/" + _marker + ".shm";
    }

    public void Dispose() => PlatformTestJson.Delete(_shm);

    /// <summary>Mappings of this test's memfd and shm file (both carry the marker in their names).</summary>
    private int CountOwnMappings() => File.ReadLines("/proc/self/maps").Count(line => line.Contains(_marker, StringComparison.Ordinal));

    /// <summary>A memfd and a shared file (plus <paramref name="extra"/>), OpenAMP layout in the file, no table written.</summary>
    private PlatformDescription Described(PlatformRole role, params RegionDescription[] extra)
    {
        var d = PlatformDescription.OpenAmpLinux(role);
        return d with
        {
            Regions =
            [
                d.Regions[0] with { Path = _shm },
                new RegionDescription { Name = _marker, Kind = PlatformRegionKind.Memfd, DeviceAddress = 0x100000, Size = 0x10000 },
                .. extra,
            ],
            Doorbell = new DoorbellDescription { Kind = PlatformDoorbellKind.Polling },
        };
    }

    private void AssertReleasedAfter(Action action)
    {
        Memory.ProcessResources.AssertNoLeak(action, settle: true);
        Assert.Equal(0, CountOwnMappings());
    }

    [Fact]
    public void OpenDispose_Succeeds_ReleasesEveryDescriptorAndMapping() => AssertReleasedAfter(() =>
    {
        // The host creates the memfd; the table is not read because nobody wrote one.
        using var host = PlatformResources.Open(Described(PlatformRole.Host), new PlatformOpenOptions { ReadResourceTable = false });
        // Both regions are really mapped while open (so the count after dispose means something).
        Assert.Equal(2, CountOwnMappings());
    });

    [Fact]
    public void Open_LaterRegionFails_EarlierRegionsReleased()
    {
        var missing = new RegionDescription { Name = "missing", Kind = PlatformRegionKind.ShmFile, Path = _shm + ".missing", DeviceAddress = 0x200000, Size = 0x1000 };

        AssertReleasedAfter(() => Assert.ThrowsAny<IOException>(() => PlatformResources.Open(Described(PlatformRole.Host, missing))));
    }

    [Fact]
    public void Open_ResourceTableInvalidAfterMapping_EveryRegionReleased() =>
        AssertReleasedAfter(() => Assert.Throws<ResourceTableException>(() => PlatformResources.Open(Described(PlatformRole.Host))));

    [Fact]
    public void Open_RemoteMemfdNeverSent_EarlierRegionsReleased()
    {
        var (hostEnd, remoteEnd) = VirtioRpmsg.Platform.DescriptorPassing.CreatePair();
        using (hostEnd)
        using (remoteEnd)
        {
            var options = new PlatformOpenOptions { Passing = remoteEnd, Timeout = TimeSpan.FromMilliseconds(20) };

            AssertReleasedAfter(() => Assert.Throws<TimeoutException>(() => PlatformResources.Open(Described(PlatformRole.Remote), options)));
        }
    }
}
