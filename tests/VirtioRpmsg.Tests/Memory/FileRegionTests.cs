using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.Memory;

/// <summary>
/// File-backed regions: a failed <see cref="SharedMemoryRegion.CreateFile"/> removes only a file it created, and every
/// mapping (Remap included) checks that the file is still large enough, since a mapping past its end is SIGBUS.
/// </summary>
public sealed class FileRegionTests
{
    // ftruncate of a sparse tmpfs file to 2^60 bytes succeeds; mmap of 2^60 bytes cannot.
    private const long Unmappable = 1L << 60;

    [Fact]
    public void CreateFile_MappingFails_RemovesTheFileItCreated()
    {
        using var files = new TestFiles();
        string path = files.ShmPath();
        Assert.False(File.Exists(path));

        var thrown = Record.Exception(() => SharedMemoryRegion.CreateFile(path, Unmappable).Dispose());

        bool left = File.Exists(path);
        long leftSize = left ? new FileInfo(path).Length : 0;
        Assert.NotNull(thrown);
        Assert.False(left, $"CreateFile failed ({thrown.GetType().Name}: {thrown.Message}) but left '{path}' ({leftSize} bytes) behind");
    }

    [Fact]
    public void CreateFile_MappingFails_KeepsAFileThatExistedBefore()
    {
        using var files = new TestFiles();
        string path = files.ShmPath();
        File.WriteAllBytes(path, new byte[4096]);

        Assert.ThrowsAny<Exception>(() => SharedMemoryRegion.CreateFile(path, Unmappable).Dispose());

        Assert.True(File.Exists(path), "a failed CreateFile removed a file that was there before it (a peer's)");
    }

    [Fact]
    public void CreateFile_ExistingFile_IsResizedAndKept()
    {
        using var files = new TestFiles();
        string path = files.ShmPath();
        File.WriteAllBytes(path, new byte[4096]);

        using (SharedMemoryRegion.CreateFile(path, 8192))
            Assert.Equal(8192, new FileInfo(path).Length);

        Assert.True(File.Exists(path));
    }

    [Fact]
    public void Remap_AfterTheFileShrank_ThrowsNamingPathSizeAndOffset_AndStaysUnmapped()
    {
        using var files = new TestFiles();
        string path = files.CreateFile("region", 8192);
        using var region = SharedMemoryRegion.OpenFile(path);
        region.Unmap();
        // Whoever shares the file (or a restart that recreates it) leaves it shorter than the region.
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
            stream.SetLength(0);

        // Never touch the memory here: on a mapping past the end of the file every access is SIGBUS (process crash).
        var thrown = Record.Exception(region.Remap);

        Assert.True(thrown is ArgumentOutOfRangeException,
            $"Remap of the now 0-byte file '{path}' threw {thrown?.GetType().Name ?? "nothing"} (mapped: {region.IsMapped}); " +
            "a mapping of 8192 bytes would kill the process with SIGBUS at the next lease access");
        Assert.Contains($"'{path}' is 0 bytes, too small for 8192 bytes at offset 0", thrown!.Message);
        Assert.False(region.IsMapped);

        // Once the file is large enough again, Remap works.
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
            stream.SetLength(8192);
        region.Remap();
        using var lease = region.Acquire();
        lease.WriteUInt32(8188, 0xC0FFEE);
        Assert.Equal(0xC0FFEEu, lease.ReadUInt32(8188));
    }
}
