using System.Text;
using System.Text.Json.Nodes;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Tests.Memory;
using static VirtioRpmsg.Tests.Lifecycle.PlatformTestJson;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// A UTF-16/32 file (with its byte order mark) is a valid description encoding, but one whose text has a lone surrogate
/// (an unpaired 0xD800 code unit, e.g. a Windows file name that is not valid UTF-16) was decoded with replacement: the
/// path read as U+FFFD, another file than the one written, while the same text in UTF-8, or as a string given to Parse,
/// is a PlatformDescriptionException.
/// </summary>
public sealed class PlatformDescriptionUtf16FileReviewTests
{
    private static string Board(string path) => Mutate(t => t["regions"] = new JsonArray(JsonNode.Parse(
        $$"""{ "name": "shm", "kind": "shmFile", "path": "{{path}}", "create": true, "deviceAddress": "0x0", "size": "0x80000" }""")));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Load_Utf16FileWithALoneSurrogate_IsRejectedNamingTheFile(bool bigEndian)
    {
        using var files = new TestFiles();
        string file = files.PathOf("board.json");
        string json = Board("/dev/shm/xLONEy").Replace("LONE", "\uD800", StringComparison.Ordinal);
        var encoding = new UnicodeEncoding(bigEndian, byteOrderMark: true); // encodes the lone surrogate unit as is
        byte[] units = new byte[json.Length * 2];
        for (int i = 0; i < json.Length; i++)
        {
            units[2 * i + (bigEndian ? 0 : 1)] = (byte)(json[i] >> 8);
            units[2 * i + (bigEndian ? 1 : 0)] = (byte)json[i];
        }
        File.WriteAllBytes(file, [.. encoding.GetPreamble(), .. units]);

        var e = Assert.Throws<PlatformDescriptionException>(() => PlatformDescription.Load(file));

        Assert.Equal("$", e.JsonPath);
        Assert.Equal(file, e.Source);
        Assert.Contains("surrogate", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("utf-16le")]
    [InlineData("utf-16be")]
    [InlineData("utf-32le")]
    [InlineData("utf-32be")]
    public void Load_ValidUtf16Or32FileWithABom_StillLoads(string name)
    {
        using var files = new TestFiles();
        string file = files.PathOf("board.json");
        Encoding encoding = name switch
        {
            "utf-16le" => new UnicodeEncoding(false, true),
            "utf-16be" => new UnicodeEncoding(true, true),
            "utf-32le" => new UTF32Encoding(false, true),
            _ => new UTF32Encoding(true, true),
        };
        File.WriteAllBytes(file, [.. encoding.GetPreamble(), .. encoding.GetBytes(Board("/dev/shm/caf\u00e9-\U0001F600"))]);

        Assert.Equal("/dev/shm/caf\u00e9-\U0001F600", PlatformDescription.Load(file).Regions[0].Path);
    }
}
