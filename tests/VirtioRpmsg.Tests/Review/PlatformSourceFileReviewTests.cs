using System.Text.Json.Nodes;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Tests.Memory;
using VirtioRpmsg.Tests.Rpmsg;
using static VirtioRpmsg.Tests.Lifecycle.PlatformTestJson;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// A description loaded from a file keeps the file (<see cref="PlatformDescription.SourceFile"/>), so what opening it
/// finds wrong names the file wherever it is opened: <see cref="PlatformResources.Open"/> directly, the CLI's
/// <c>--platform</c>, not only <c>RpmsgLink.OpenAsync(file)</c> (which named it alone before).
/// </summary>
public sealed class PlatformSourceFileReviewTests
{
    // A fake uio0 whose map 0 sysfs sizes at one page while the description says 0x80000: found only at open.
    private static string WriteUioBoardSysfsContradicts(TestFiles files)
    {
        string sysfs = files.PathOf("sys-class-uio");
        string map = Path.Combine(sysfs, "uio0", "maps", "map0");
        Directory.CreateDirectory(map);
        File.WriteAllText(Path.Combine(map, "addr"), "0x0\n");
        File.WriteAllText(Path.Combine(map, "size"), "0x1000\n");
        File.WriteAllText(Path.Combine(map, "offset"), "0x0\n");
        Directory.CreateDirectory(files.PathOf("dev"));
        string node = files.CreateFile(Path.Combine("dev", "uio0"), 0x1000);
        string board = files.PathOf("board.json");
        File.WriteAllText(board, Mutate(t =>
        {
            t["resourceTable"] = "none";
            t["regions"] = new JsonArray(new JsonObject
            {
                ["name"] = "shm", ["kind"] = "uio", ["device"] = node, ["sysfsRoot"] = sysfs, ["deviceAddress"] = "0x0", ["size"] = "0x80000",
            });
        }));
        return board;
    }

    [Fact]
    public void Load_KeepsTheFullPath_ParseHasNone_AndWithKeepsIt()
    {
        using var files = new TestFiles();
        string board = files.PathOf("board.json");
        File.WriteAllText(board, Valid);

        var loaded = PlatformDescription.Load(board);

        Assert.Equal(Path.GetFullPath(board), loaded.SourceFile);
        Assert.Null(PlatformDescription.Parse(Valid).SourceFile);
        Assert.Equal(loaded.SourceFile, (loaded with { Role = PlatformRole.Remote }).SourceFile);
    }

    [Fact]
    public void PlatformResourcesOpen_OfALoadedDescription_NamesTheFileInAnOpenTimeError()
    {
        using var files = new TestFiles();
        string board = WriteUioBoardSysfsContradicts(files);

        var e = Assert.Throws<PlatformDescriptionException>(() => PlatformResources.Open(PlatformDescription.Load(board)).Dispose());

        Assert.Equal("regions[0].size", e.JsonPath);
        Assert.Equal(Path.GetFullPath(board), e.Source);
        Assert.Contains($"'{Path.GetFullPath(board)}'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PlatformResourcesOpen_OfAParsedDescription_NamesNoFile()
    {
        using var files = new TestFiles();
        string board = WriteUioBoardSysfsContradicts(files);

        var e = Assert.Throws<PlatformDescriptionException>(() => PlatformResources.Open(PlatformDescription.Parse(File.ReadAllText(board))).Dispose());

        Assert.Equal("regions[0].size", e.JsonPath);
        Assert.Null(e.Source);
    }

    [Fact]
    public void CliPing_WithABoardFileThatOpeningContradicts_SaysWhichFile()
    {
        using var files = new TestFiles();
        string board = WriteUioBoardSysfsContradicts(files);

        var (code, _, stderr) = CrossProcessCli.Run(TimeSpan.FromSeconds(90), "ping", "--platform", board, "--count", "1");

        Assert.Equal(1, code);
        Assert.Contains($"'{Path.GetFullPath(board)}'", stderr, StringComparison.Ordinal);
        Assert.Contains("regions[0].size", stderr, StringComparison.Ordinal);
    }
}
