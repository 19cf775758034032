namespace VirtioRpmsg.Tests.Memory;

/// <summary>
/// A scratch directory (under /tmp) and unique names in /dev/shm, all containing "vrpmsg-test", all
/// deleted on Dispose so that no test leaves a file behind, even when it fails.
/// </summary>
public sealed class TestFiles : IDisposable
{
    private readonly List<string> _shmFiles = [];

    public TestFiles()
    {
        Directory = Path.Combine(Path.GetTempPath(), "vrpmsg-test-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
    }

    /// <summary>The scratch directory.</summary>
    public string Directory { get; }

    /// <summary>A path in the scratch directory (not created).</summary>
    public string PathOf(string name) => Path.Combine(Directory, name);

    /// <summary>A regular file of <paramref name="length"/> zero bytes in the scratch directory.</summary>
    public string CreateFile(string name, long length)
    {
        string path = PathOf(name);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.ReadWrite);
        stream.SetLength(length);
        return path;
    }

    /// <summary>A fresh, not yet existing path in /dev/shm, removed on Dispose.</summary>
    public string ShmPath()
    {
        string path = "/dev/shm/vrpmsg-test-" + Guid.NewGuid().ToString("N");
        lock (_shmFiles)
            _shmFiles.Add(path);
        return path;
    }

    public void Dispose()
    {
        lock (_shmFiles)
        {
            foreach (var f in _shmFiles)
                File.Delete(f);
        }
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
