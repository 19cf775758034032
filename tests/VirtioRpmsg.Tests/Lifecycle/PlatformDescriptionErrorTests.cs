using System.Text.Json.Nodes;
using VirtioRpmsg.Lifecycle;
using static VirtioRpmsg.Tests.Lifecycle.PlatformTestJson;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>Every way a description can be wrong is rejected with a <see cref="PlatformDescriptionException"/> naming the JSON path.</summary>
public class PlatformDescriptionErrorTests
{
    private static JsonObject Vdev(JsonObject t) => t["vdev"]!.AsObject();
    private static JsonObject Bell(JsonObject t) => t["doorbell"]!.AsObject();
    private static JsonNode Json(string text) => JsonNode.Parse(text)!;

    private static void AddRegion(JsonObject t, string region) => t["regions"]!.AsArray().Add(Json(region));

    private static void UioMailbox(JsonObject t, string mailbox)
    {
        AddRegion(t, """{ "name": "mbox", "kind": "anonymous", "deviceAddress": "0x100000", "size": "0x1000" }""");
        t["doorbell"] = Json($$"""{ "kind": "uio", "device": "uio0", "mailbox": {{mailbox}} }""");
    }

    private static void DevMem(JsonObject t, string physical, string size, string? allowed)
    {
        t["regions"]!.AsArray().Insert(0, Json($$"""{ "name": "dm", "kind": "devMem", "physicalAddress": "{{physical}}", "deviceAddress": "0x100000", "size": "{{size}}" }"""));
        if (allowed is not null)
            t["allowedDevMemRanges"] = Json(allowed);
    }

    // name -> (mutation of the valid description, the path the error must name)
    private static readonly Dictionary<string, (Action<JsonObject> Change, string Path)> Cases = new()
    {
        // missing required
        ["missing role"] = (t => t.Remove("role"), "role"),
        ["missing regions"] = (t => t.Remove("regions"), "regions"),
        ["empty regions"] = (t => t["regions"] = new JsonArray(), "regions"),
        ["missing region name"] = (t => Region(t, 0).Remove("name"), "regions[0].name"),
        ["missing region kind"] = (t => Region(t, 0).Remove("kind"), "regions[0].kind"),
        ["missing region size"] = (t => Region(t, 0).Remove("size"), "regions[0].size"),
        ["missing region device address"] = (t => Region(t, 0).Remove("deviceAddress"), "regions[0].deviceAddress"),
        ["missing shmFile path"] = (t => Region(t, 0)["kind"] = "shmFile", "regions[0].path"),
        ["missing devMem physical address"] = (t => Region(t, 0)["kind"] = "devMem", "regions[0].physicalAddress"),
        ["missing uio device"] = (t => { Region(t, 0)["kind"] = "uio"; }, "regions[0].device"),
        ["missing resource table"] = (t => t.Remove("resourceTable"), "resourceTable"),
        ["missing resource table offset"] = (t => t["resourceTable"]!.AsObject().Remove("offset"), "resourceTable.offset"),
        ["missing vdev"] = (t => t.Remove("vdev"), "vdev"),
        ["missing pool address"] = (t => Vdev(t).Remove("bufferPoolAddress"), "vdev.bufferPoolAddress"),
        ["missing vring without table"] = (t => { t["resourceTable"] = "none"; Vdev(t).Remove("vring0Address"); }, "vdev.vring0Address"),
        ["missing vring for remote"] = (t => { t["role"] = "remote"; Vdev(t).Remove("vring1Address"); }, "vdev.vring1Address"),
        ["missing doorbell"] = (t => t.Remove("doorbell"), "doorbell"),
        ["missing doorbell kind"] = (t => Bell(t).Remove("kind"), "doorbell.kind"),
        ["missing socket path"] = (t => t["doorbell"] = Json("""{ "kind": "unixSocket" }"""), "doorbell.path"),
        ["missing allow-list start"] = (t => t["allowedDevMemRanges"] = Json("""[ { "size": "0x1000" } ]"""), "allowedDevMemRanges[0].start"),
        ["missing mailbox offset"] = (t => UioMailbox(t, """{ "region": "mbox" }"""), "doorbell.mailbox.offset"),

        // wrong kind, or a field the kind does not use
        ["unknown region kind"] = (t => Region(t, 0)["kind"] = "shmfile2", "regions[0].kind"),
        ["numeric region kind"] = (t => Region(t, 0)["kind"] = 1, "regions[0].kind"),
        ["unknown role"] = (t => t["role"] = "master", "role"),
        ["unknown doorbell kind"] = (t => Bell(t)["kind"] = "pipe", "doorbell.kind"),
        ["unknown socket mode"] = (t => t["doorbell"] = Json("""{ "kind": "unixSocket", "path": "/tmp/s", "mode": "both" }"""), "doorbell.mode"),
        ["path on anonymous"] = (t => Region(t, 0)["path"] = "/tmp/x", "regions[0].path"),
        ["create on anonymous"] = (t => Region(t, 0)["create"] = true, "regions[0].create"),
        ["physical address on anonymous"] = (t => Region(t, 0)["physicalAddress"] = "0x1000", "regions[0].physicalAddress"),
        ["map index on anonymous"] = (t => Region(t, 0)["mapIndex"] = 0, "regions[0].mapIndex"),
        ["device and device name on uio"] = (t => { var r = Region(t, 0); r["kind"] = "uio"; r["device"] = "uio0"; r["deviceName"] = "x"; }, "regions[0].device"),
        ["negative map index"] = (t => { var r = Region(t, 0); r["kind"] = "uio"; r["device"] = "uio0"; r["mapIndex"] = -1; }, "regions[0].mapIndex"),
        ["map index past MAX_UIO_MAPS"] = (t => { var r = Region(t, 0); r["kind"] = "uio"; r["device"] = "uio0"; r["mapIndex"] = 5; }, "regions[0].mapIndex"),
        ["socket path longer than sun_path"] = (t => t["doorbell"] = Json($$"""{ "kind": "unixSocket", "path": "/tmp/{{new string('s', 110)}}" }"""), "doorbell.path"),
        ["abstract socket name longer than sun_path"] = (t => t["doorbell"] = Json($$"""{ "kind": "unixSocket", "path": "@{{new string('s', 108)}}" }"""), "doorbell.path"),
        ["eventfd passing socket longer than sun_path"] = (t => t["doorbell"] = Json($$"""{ "kind": "eventfd", "socket": "{{new string('s', 108)}}" }"""), "doorbell.socket"),
        ["path on polling doorbell"] = (t => Bell(t)["path"] = "/tmp/s", "doorbell.path"),
        ["mode on eventfd doorbell"] = (t => t["doorbell"] = Json("""{ "kind": "eventfd", "mode": "client" }"""), "doorbell.mode"),
        ["socket on unixSocket doorbell"] = (t => t["doorbell"] = Json("""{ "kind": "unixSocket", "path": "/tmp/s", "socket": "x" }"""), "doorbell.socket"),
        ["mailbox on eventfd doorbell"] = (t => t["doorbell"] = Json("""{ "kind": "eventfd", "mailbox": { "region": "shm", "offset": 0 } }"""), "doorbell.mailbox"),
        ["uio doorbell without device"] = (t => t["doorbell"] = Json("""{ "kind": "uio" }"""), "doorbell.device"),

        // bad values
        ["zero size"] = (t => Region(t, 0)["size"] = 0, "regions[0].size"),
        ["negative size"] = (t => Region(t, 0)["size"] = -1, "regions[0].size"),
        ["size not a number"] = (t => Region(t, 0)["size"] = "0xZZ", "regions[0].size"),
        ["size of the wrong type"] = (t => Region(t, 0)["size"] = true, "regions[0].size"),
        ["region wrapping the address space"] = (t => { Region(t, 0)["deviceAddress"] = "0xFFFFFFFFFFFFF000"; Region(t, 0)["size"] = "0x2000"; }, "regions[0].size"),
        ["duplicate region name"] = (t => AddRegion(t, """{ "name": "shm", "kind": "anonymous", "deviceAddress": "0x100000", "size": "0x1000" }"""), "regions[1].name"),
        ["overlapping regions"] = (t => AddRegion(t, """{ "name": "other", "kind": "anonymous", "deviceAddress": "0x7F000", "size": "0x2000" }"""), "regions[1].deviceAddress"),
        ["bad wait strategy"] = (t => t["waitStrategy"] = "sometimes", "waitStrategy"),
        ["numeric wait strategy"] = (t => t["waitStrategy"] = 2, "waitStrategy"),
        ["allow-list range of size 0"] = (t => t["allowedDevMemRanges"] = Json("""[ { "start": "0x1000", "size": "0" } ]"""), "allowedDevMemRanges[0].size"),

        // resource table
        ["table in an unknown region"] = (t => t["resourceTable"]!["region"] = "nowhere", "resourceTable.region"),
        ["table outside its region"] = (t => t["resourceTable"]!["offset"] = "0x80000", "resourceTable.offset"),
        ["table header past the region end"] = (t => t["resourceTable"]!["offset"] = "0x7FFF8", "resourceTable.offset"),
        ["table size past the region end"] = (t => { t["resourceTable"]!["offset"] = "0x7FF00"; t["resourceTable"]!["size"] = "0x400"; Vdev(t)["bufferPoolAddress"] = "0x10000"; }, "resourceTable.size"),
        ["table size below the header"] = (t => t["resourceTable"]!["size"] = 8, "resourceTable.size"),
        ["unaligned table"] = (t => t["resourceTable"]!["offset"] = 2, "resourceTable.offset"),
        ["table neither none nor object"] = (t => t["resourceTable"] = "nothing", "resourceTable"),
        ["table offset not a number"] = (t => t["resourceTable"]!["offset"] = "0xZZ", "resourceTable.offset"),
        ["table overlapping a vring"] = (t => t["resourceTable"]!["offset"] = "0x4000", "vdev.vring0Address"),

        // layout
        ["vring outside memory"] = (t => Vdev(t)["vring0Address"] = "0x100000", "vdev.vring0Address"),
        ["vring running past memory"] = (t => Vdev(t)["vring1Address"] = "0x7F000", "vdev.vring1Address"),
        ["pool outside memory"] = (t => Vdev(t)["bufferPoolAddress"] = "0x70000", "vdev.bufferPoolAddress"),
        ["vrings overlapping"] = (t => Vdev(t)["vring1Address"] = "0x5000", "vdev.vring1Address"),
        ["pool overlapping a vring"] = (t => Vdev(t)["bufferPoolAddress"] = "0x8000", "vdev.bufferPoolAddress"),
        ["unaligned vring"] = (t => Vdev(t)["vring0Address"] = "0x4100", "vdev.vring0Address"),
        ["vring num not a power of two"] = (t => Vdev(t)["vringNum"] = 100, "vdev.vringNum"),
        ["vring num too large"] = (t => Vdev(t)["vringNum"] = 65536, "vdev.vringNum"),
        ["vring align not a power of two"] = (t => Vdev(t)["vringAlign"] = 3, "vdev.vringAlign"),
        ["odd buffer count"] = (t => Vdev(t)["bufferCount"] = 3, "vdev.bufferCount"),
        ["more rx buffers than vring entries"] = (t => { Vdev(t)["bufferCount"] = 1024; Vdev(t)["bufferSize"] = 64; }, "vdev.bufferCount"),
        ["buffer too small for a header"] = (t => Vdev(t)["bufferSize"] = 20, "vdev.bufferSize"),
        ["pool size below count times size"] = (t => Vdev(t)["bufferPoolSize"] = "0x100", "vdev.bufferPoolSize"),
        ["ADDR_ANY without table"] = (t => { t["resourceTable"] = "none"; Vdev(t)["vring0Address"] = "ADDR_ANY"; }, "vdev.vring0Address"),
        ["ADDR_ANY misspelt"] = (t => Vdev(t)["vring0Address"] = "ADDR_ANYWHERE", "vdev.vring0Address"),
        ["vring above 4 GiB with table"] = (t => Vdev(t)["vring0Address"] = "0x100000000", "vdev.vring0Address"),
        ["unknown vring region"] = (t => Vdev(t)["vringRegion"] = "nowhere", "vdev.vringRegion"),
        ["feature this stack does not implement"] = (t => Vdev(t)["features"] = "0x20000003", "vdev.features"),
        ["features without a table"] = (t => { t["resourceTable"] = "none"; Vdev(t)["features"] = "0x1"; }, "vdev.features"),

        // devMem allow-list
        ["devMem outside the allow-list"] = (t => DevMem(t, "0x1000", "0x1000", """[ { "start": "0x100000", "size": "0x1000" } ]"""), "regions[0].physicalAddress"),
        ["devMem partly outside the allow-list"] = (t => DevMem(t, "0x100800", "0x1000", """[ { "start": "0x100000", "size": "0x1000" } ]"""), "regions[0].physicalAddress"),
        ["devMem without an allow-list"] = (t => DevMem(t, "0x100000", "0x1000", null), "regions[0].physicalAddress"),
        // the host's mapping keeps the physical address's place in its page: 0x100008 maps 8 bytes past an aligned
        // address, where the remote sees the aligned 0x100000 (a ring there would be misaligned for the host)
        ["devMem device address skewed against its physical address"] = (t => DevMem(t, "0x100008", "0x1000", """[ { "start": "0x100000", "size": "0x2000" } ]"""), "regions[0].deviceAddress"),

        // mailbox
        ["mailbox in an unknown region"] = (t => UioMailbox(t, """{ "region": "nowhere", "offset": 0 }"""), "doorbell.mailbox.region"),
        ["unaligned mailbox register"] = (t => UioMailbox(t, """{ "region": "mbox", "offset": 2 }"""), "doorbell.mailbox.offset"),
        ["mailbox register outside its region"] = (t => UioMailbox(t, """{ "region": "mbox", "offset": "0x1000" }"""), "doorbell.mailbox.offset"),
        ["mailbox value above 32 bits"] = (t => UioMailbox(t, """{ "region": "mbox", "offset": 0, "value": "0x100000000" }"""), "doorbell.mailbox.value"),
        ["status register without mask"] = (t => UioMailbox(t, """{ "region": "mbox", "offset": 0, "statusOffset": 4 }"""), "doorbell.mailbox.statusFullMask"),
        ["mask without status register"] = (t => UioMailbox(t, """{ "region": "mbox", "offset": 0, "statusFullMask": 1 }"""), "doorbell.mailbox.statusFullMask"),

        // unknown properties (names are case-sensitive camelCase)
        ["unknown root property"] = (t => t["colour"] = "blue", "colour"),
        ["PascalCase property"] = (t => { t.Remove("role"); t["Role"] = "host"; }, "Role"),
        ["unknown region property"] = (t => Region(t, 0)["sizes"] = 1, "regions[0].sizes"),
        ["unknown vdev property"] = (t => Vdev(t)["vringNumber"] = 256, "vdev.vringNumber"),
        ["unknown table property"] = (t => t["resourceTable"]!["length"] = 88, "resourceTable.length"),
        ["unknown mailbox property"] = (t => UioMailbox(t, """{ "region": "mbox", "offset": 0, "valu": 1 }"""), "doorbell.mailbox.valu"),
        ["unknown allow-list property"] = (t => t["allowedDevMemRanges"] = Json("""[ { "start": 0, "size": 1, "end": 1 } ]"""), "allowedDevMemRanges[0].end"),
        // get-only [JsonIgnore] properties of the API: the serializer would drop them silently (the offer as NS only)
        ["derived vdevCount"] = (t => t["vdevCount"] = 2, "vdevCount"),
        ["derived vdevCount, not even a number"] = (t => t["vdevCount"] = "not even a number", "vdevCount"),
        ["derived vdev effectiveFeatures"] = (t => Vdev(t)["effectiveFeatures"] = "0x20000001", "vdev.effectiveFeatures"),
    };

    public static TheoryData<string> CaseNames() => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Parse_InvalidDescription_ThrowsNamingThePath(string name)
    {
        var (change, path) = Cases[name];

        Reject(change, path);
    }

    [Fact]
    public void Parse_UnimplementedFeature_NamesFieldAndValue()
    {
        var e = Reject(t => Vdev(t)["features"] = "0x20000003", "vdev.features");

        Assert.Equal("0x20000003", e.Value);
        Assert.Contains("0x2", e.Message);
    }

    [Fact]
    public void Parse_ValidBase_IsAccepted() => PlatformDescription.Parse(Valid);

    [Fact]
    public void Parse_BadNumber_ExceptionCarriesTheValueAsWritten()
    {
        var e = Reject(t => Region(t, 0)["size"] = "0xZZ", "regions[0].size");

        Assert.Equal("\"0xZZ\"", e.Value);
    }

    [Fact]
    public void Parse_UnknownProperty_ExceptionCarriesItsValueAndTheExpectedNames()
    {
        var e = Reject(t => Vdev(t)["vringNumber"] = 256, "vdev.vringNumber");

        Assert.Equal("256", e.Value);
        Assert.Contains("vringNum", e.Detail);
    }

    [Fact]
    public void Parse_UnknownProperty_ExpectedNamesLeaveOutDerivedProperties()
    {
        var root = Reject(t => { t.Remove("role"); t["Role"] = "host"; }, "Role");
        var vdev = Reject(t => Vdev(t)["vringNumber"] = 256, "vdev.vringNumber");

        Assert.DoesNotContain("vdevCount", root.Detail);
        Assert.DoesNotContain("effectiveFeatures", vdev.Detail);
        Assert.Contains("features", vdev.Detail);
    }

    [Fact]
    public void Parse_MissingProperty_ValueSaysMissing()
    {
        var e = Reject(t => Region(t, 0).Remove("kind"), "regions[0].kind");

        Assert.Equal("(missing)", e.Value);
    }

    [Fact]
    public void Parse_DevMemOutsideAllowList_NamesTheAllowedRanges()
    {
        var e = Reject(t => DevMem(t, "0x1000", "0x1000", """[ { "start": "0x100000", "size": "0x1000" } ]"""), "regions[0].physicalAddress");

        Assert.Equal("0x1000", e.Value);
        Assert.Contains("[0x100000, +0x1000)", e.Message);
    }

    [Fact]
    public void Parse_DevMemInsideAllowList_IsAccepted()
    {
        var d = PlatformDescription.Parse(Mutate(t => DevMem(t, "0x100000", "0x1000", """[ { "start": "0xF0000", "size": "0x20000" } ]""")));

        Assert.Equal(0x100000UL, d.Regions[0].PhysicalAddress);
    }

    [Fact]
    public void Parse_DuplicateProperty_Rejected() =>
        RejectJson(Valid.Replace("\"role\": \"host\",", "\"role\": \"host\", \"role\": \"remote\","), "role");

    [Fact]
    public void Parse_NotJson_RejectedAtTheRoot() => RejectJson("{ \"role\": ", "$");

    [Fact]
    public void Parse_ArrayAtTheRoot_RejectedAtTheRoot() => RejectJson("[]", "$");

    [Fact]
    public void Load_InvalidFile_ExceptionNamesTheFile()
    {
        string path = Path.Combine(Path.GetTempPath(), "vrpmsg-test-platform-" + Guid.NewGuid().ToString("N") + ".json");
        try
        {
            File.WriteAllText(path, Mutate(t => t["waitStrategy"] = "sometimes"));

            var e = Assert.Throws<PlatformDescriptionException>(() => PlatformDescription.Load(path));

            Assert.Equal(path, e.Source);
            Assert.Equal("waitStrategy", e.JsonPath);
            Assert.Contains(path, e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Validate_UndefinedEnumValue_NamesThePath()
    {
        var d = PlatformDescription.Parse(Valid) with { WaitStrategy = (PlatformWaitStrategy)42 };

        var e = Assert.Throws<PlatformDescriptionException>(d.Validate);

        Assert.Equal("waitStrategy", e.JsonPath);
    }
}
