using System.Text.Json.Nodes;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Tests.Memory;
using static VirtioRpmsg.Tests.Lifecycle.PlatformTestJson;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// <c>RpmsgLink.OpenAsync("board.json")</c>: every <see cref="PlatformDescriptionException"/> it throws names the file
/// and the field, as <see cref="PlatformDescription.Load"/>'s do: the checks RpmsgLink adds (role, callerPoll) and what
/// opening finds wrong with the description (a uio map sysfs sizes differently, a pool outside the mapped memory).
/// </summary>
public sealed class RpmsgLinkBoardFileReviewTests
{
    private static string WriteBoard(TestFiles files, Action<JsonObject> change)
    {
        string path = files.PathOf("board.json");
        File.WriteAllText(path, Mutate(change));
        return path;
    }

    private static async Task<PlatformDescriptionException> OpenRejected(string board, string jsonPath)
    {
        var e = await Assert.ThrowsAsync<PlatformDescriptionException>(async () =>
        {
            await using var link = await RpmsgLink.OpenAsync(board, new RpmsgLinkOptions { Timeout = TimeSpan.FromSeconds(5) });
        });
        Assert.Equal(jsonPath, e.JsonPath);
        Assert.Equal(Path.GetFullPath(board), e.Source);
        Assert.Contains($"'{Path.GetFullPath(board)}'", e.Message, StringComparison.Ordinal);
        Assert.Contains(jsonPath, e.Message, StringComparison.Ordinal);
        return e;
    }

    [Fact]
    public async Task OpenAsync_BoardFileOfTheRemoteRole_NamesTheFileAndRole()
    {
        using var files = new TestFiles();
        string board = WriteBoard(files, t => t["role"] = "remote");

        var e = await OpenRejected(board, "role");

        Assert.Equal("\"remote\"", e.Value);
    }

    [Fact]
    public async Task OpenAsync_BoardFileWithCallerPoll_NamesTheFileAndWaitStrategy()
    {
        using var files = new TestFiles();
        string board = WriteBoard(files, t => t["waitStrategy"] = "callerPoll");

        var e = await OpenRejected(board, "waitStrategy");

        Assert.Equal("\"callerPoll\"", e.Value);
    }

    // A fake uio0 whose map 0 sysfs sizes at one page, while the description says 0x80000: found only at open.
    [Fact]
    public async Task OpenAsync_BoardFileWhoseUioSizeSysfsContradicts_NamesTheFileAndSize()
    {
        using var files = new TestFiles();
        string sysfs = files.PathOf("sys-class-uio");
        string map = Path.Combine(sysfs, "uio0", "maps", "map0");
        Directory.CreateDirectory(map);
        File.WriteAllText(Path.Combine(map, "addr"), "0x0\n");
        File.WriteAllText(Path.Combine(map, "size"), "0x1000\n");
        File.WriteAllText(Path.Combine(map, "offset"), "0x0\n");
        Directory.CreateDirectory(files.PathOf("dev"));
        string node = files.CreateFile(Path.Combine("dev", "uio0"), 0x1000);
        string board = WriteBoard(files, t =>
        {
            t["resourceTable"] = "none";
            t["regions"] = new JsonArray(new JsonObject
            {
                ["name"] = "shm", ["kind"] = "uio", ["device"] = node, ["sysfsRoot"] = sysfs, ["deviceAddress"] = "0x0", ["size"] = "0x80000",
            });
        });

        var e = await OpenRejected(board, "regions[0].size");

        Assert.Equal("0x80000", e.Value);
        Assert.Contains("sysfs", e.Detail, StringComparison.Ordinal);
    }

    // The same without "size": the pool is checked against the extent sysfs gives, at open.
    [Fact]
    public async Task OpenAsync_BoardFileWhosePoolIsOutsideTheSysfsSizedRegion_NamesTheFileAndPool()
    {
        using var files = new TestFiles();
        string sysfs = files.PathOf("sys-class-uio");
        string map = Path.Combine(sysfs, "uio0", "maps", "map0");
        Directory.CreateDirectory(map);
        File.WriteAllText(Path.Combine(map, "addr"), "0x0\n");
        File.WriteAllText(Path.Combine(map, "size"), "0x1000\n");
        File.WriteAllText(Path.Combine(map, "offset"), "0x0\n");
        Directory.CreateDirectory(files.PathOf("dev"));
        string node = files.CreateFile(Path.Combine("dev", "uio0"), 0x1000);
        string board = WriteBoard(files, t =>
        {
            t["resourceTable"] = "none";
            t["regions"] = new JsonArray(new JsonObject { ["name"] = "shm", ["kind"] = "uio", ["device"] = node, ["sysfsRoot"] = sysfs });
        });

        var e = await OpenRejected(board, "vdev.bufferPoolAddress");

        Assert.Equal("0x10000", e.Value);
    }
}
