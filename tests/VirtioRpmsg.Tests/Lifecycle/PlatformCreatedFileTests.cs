using VirtioRpmsg.Lifecycle;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// A "create": true shared-memory file is removed by the host <see cref="PlatformResources"/> that created
/// it, on dispose and when Open fails; a file that existed before (a peer's) is left alone.
/// </summary>
public sealed class PlatformCreatedFileTests : IDisposable
{
    private readonly string _shm = PlatformTestJson.ShmPath();

    public void Dispose() => PlatformTestJson.Delete(_shm);

    private PlatformDescription OnFile(PlatformRole role)
    {
        var d = PlatformDescription.OpenAmpLinux(role);
        return d with { Regions = [d.Regions[0] with { Path = _shm }] };
    }

    [Fact]
    public void HostDispose_RemovesTheFileOpenCreated()
    {
        using (PlatformResources.Open(OnFile(PlatformRole.Host), new PlatformOpenOptions { ReadResourceTable = false }))
            Assert.Equal(0x80000, new FileInfo(_shm).Length);

        Assert.False(File.Exists(_shm), "the file this host created is still there after Dispose");
    }

    [Fact]
    public void RemoteDispose_KeepsTheFile_ItsProgramOwnsIt()
    {
        using (PlatformResources.Open(OnFile(PlatformRole.Remote)))
        {
        }

        Assert.True(File.Exists(_shm));
    }

    [Fact]
    public void Dispose_KeepsAFileThatExistedBefore()
    {
        using (var peer = PlatformResources.Open(OnFile(PlatformRole.Remote)))
        {
            using (PlatformResources.Open(OnFile(PlatformRole.Host), new PlatformOpenOptions { ReadResourceTable = false }))
            {
            }
            Assert.True(File.Exists(_shm), "the host removed a file its peer created");
        }
    }

    [Fact]
    public void OpenFails_RemovesTheFileItCreated()
    {
        // A host that reads the table of the (all-zero) file it has just created finds no table.
        Assert.ThrowsAny<Exception>(() => PlatformResources.Open(OnFile(PlatformRole.Host)));

        Assert.False(File.Exists(_shm), "a failed Open left the file it created");
    }
}
