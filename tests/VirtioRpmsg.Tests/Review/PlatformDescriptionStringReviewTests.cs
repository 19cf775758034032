using System.Text.Json.Nodes;
using VirtioRpmsg.Lifecycle;
using static VirtioRpmsg.Tests.Lifecycle.PlatformTestJson;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Strings of board.json that JSON allows but a file name, a message or UTF-16 cannot carry: a lone surrogate escape,
/// a NUL or another control character. Each is a <see cref="PlatformDescriptionException"/> naming the field, with the
/// character printed as an escape, never raw; a path with a NUL is refused at load (opening it would cut it at the NUL).
/// </summary>
public sealed class PlatformDescriptionStringReviewTests
{
    // The valid description with one string value replaced by raw JSON text (escapes as written).
    private static string WithRegionName(string rawJsonString) =>
        Valid.Replace("\"name\": \"shm\"", "\"name\": " + rawJsonString, StringComparison.Ordinal);

    [Theory]
    [InlineData("\"\\uD800\"")]
    [InlineData("\"a\\uDC00b\"")]
    [InlineData("\"\\uD800\\u0041\"")]
    public void Parse_LoneSurrogateEscapeInAValue_NamesTheFieldAndPosition(string raw)
    {
        var e = RejectJson(WithRegionName(raw), "regions[0].name");

        Assert.Equal(raw, e.Value);
        Assert.Contains("surrogate", e.Detail, StringComparison.Ordinal);
        Assert.Contains("line 4", e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_LoneSurrogateEscapeInAPropertyName_IsADescriptionError()
    {
        string json = Valid.Replace("\"waitStrategy\"", "\"wait\\uD800\"", StringComparison.Ordinal);

        var e = Assert.Throws<PlatformDescriptionException>(() => PlatformDescription.Parse(json));

        Assert.Contains("surrogate", e.Detail, StringComparison.Ordinal);
        Assert.Contains("\\uD800", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("resourceTable.region")]
    [InlineData("regions[0].size")]
    [InlineData("waitStrategy")]
    [InlineData("vdev.vring0Address")]
    public void Parse_NulInAStringValue_IsPrintedEscaped(string path)
    {
        string json = Mutate(t =>
        {
            switch (path)
            {
                case "resourceTable.region": t["resourceTable"]!["region"] = "sh\0m"; break;
                case "regions[0].size": Region(t, 0)["size"] = "0x80000\0"; break;
                case "waitStrategy": t["waitStrategy"] = "hybrid\u0007"; break;
                default: t["vdev"]!["vring0Address"] = "0x4000\u001B[2J"; break;
            }
        });

        var e = RejectJson(json, path);

        Assert.DoesNotContain(e.Message, c => char.IsControl(c));
        Assert.DoesNotContain(e.Value, c => char.IsControl(c));
        Assert.Matches(@"\\u00(00|07|1B)", e.Message);
    }

    [Fact]
    public void Parse_NulInARegionNameReferredToElsewhere_IsPrintedEscapedInTheList()
    {
        var e = Reject(t =>
        {
            Region(t, 0)["name"] = "shm\0";
            t["resourceTable"]!["region"] = "shm";
        }, "resourceTable.region");

        Assert.DoesNotContain(e.Message, c => char.IsControl(c));
        Assert.Contains("'shm\\u0000'", e.Message, StringComparison.Ordinal);
    }

    // open(2) takes a C string: "/dev/shm/x\0y" would open "/dev/shm/x", another file than the one described.
    [Theory]
    [InlineData("shmFile", "path")]
    [InlineData("devMem", "path")]
    [InlineData("uio", "device")]
    [InlineData("uio", "deviceName")]
    [InlineData("uio", "sysfsRoot")]
    public void Parse_NulInARegionPath_IsRejectedAtLoadNamingTheField(string kind, string field)
    {
        var e = Reject(t =>
        {
            var r = new JsonObject { ["name"] = "x", ["kind"] = kind, ["size"] = "0x1000" };
            if (kind == "shmFile")
                r["deviceAddress"] = "0x100000";
            if (kind == "devMem")
                r["physicalAddress"] = "0x100000";
            if (kind == "uio" && field != "device" && field != "deviceName")
                r["device"] = "uio0";
            r[field] = field == "deviceName" ? "rpmsg\0shm" : field == "device" ? "uio0\0" : "/tmp/vrpmsg-review\0-x";
            t["regions"]!.AsArray().Add(r);
            t["allowedDevMemRanges"] = JsonNode.Parse("""[{ "start": "0x100000", "size": "0x1000" }]""");
        }, $"regions[1].{field}");

        Assert.Contains("NUL", e.Detail, StringComparison.Ordinal);
        Assert.Contains("\\u0000", e.Value, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("device", "uio0\0")]
    [InlineData("deviceName", "rpmsg\0mbox")]
    [InlineData("sysfsRoot", "/sys/class/uio\0")]
    public void Parse_NulInAUioDoorbellField_IsRejectedAtLoadNamingTheField(string field, string value)
    {
        var e = Reject(t =>
        {
            var b = new JsonObject { ["kind"] = "uio", ["device"] = "uio0" };
            if (field == "deviceName")
                b.Remove("device");
            b[field] = value;
            t["doorbell"] = b;
        }, $"doorbell.{field}");

        Assert.Contains("NUL", e.Detail, StringComparison.Ordinal);
    }

    // .NET's number parsing ignores trailing NULs: "0x80000\0" was read as 0x80000, a value other than the one written.
    [Theory]
    [InlineData("0x80000\0")]
    [InlineData("524288\0\0")]
    public void Parse_NumberStringWithTrailingNul_IsRejectedNamingTheField(string size)
    {
        var e = Reject(t => Region(t, 0)["size"] = size, "regions[0].size");

        Assert.Contains("is not a number", e.Detail, StringComparison.Ordinal);
    }

    // A .NET string is not necessarily valid UTF-16: the JSON reader refuses to transcode it with an ArgumentException.
    [Fact]
    public void Parse_TextWithALoneSurrogateChar_IsADescriptionErrorNamingThePosition()
    {
        string json = Valid.Replace("\"shm\"", "\"sh\uD800m\"", StringComparison.Ordinal);

        var e = Assert.Throws<PlatformDescriptionException>(() => PlatformDescription.Parse(json));

        Assert.Equal("$", e.JsonPath);
        Assert.Contains("line 4", e.Value, StringComparison.Ordinal);
        Assert.Contains("surrogate", e.Detail, StringComparison.Ordinal);
    }

    // docs: "The file is UTF-8". A Latin-1 byte was read as U+FFFD: the path named another file than the one written.
    [Fact]
    public void Load_FileThatIsNotUtf8_IsRefusedNamingTheFileAndPosition()
    {
        string path = Path.Combine(Path.GetTempPath(), "vrpmsg-test-latin1-board-" + Guid.NewGuid().ToString("N") + ".json");
        string json = Valid.Replace("\"kind\": \"anonymous\"", "\"kind\": \"shmFile\", \"path\": \"/dev/shm/vrpmsg-test-caf\u00E9\"", StringComparison.Ordinal);
        try
        {
            File.WriteAllBytes(path, System.Text.Encoding.Latin1.GetBytes(json));

            var e = Assert.Throws<PlatformDescriptionException>(() => PlatformDescription.Load(path));

            Assert.Equal(path, e.Source);
            Assert.Contains("0xE9", e.Value, StringComparison.Ordinal);
            Assert.Contains("UTF-8", e.Detail, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
