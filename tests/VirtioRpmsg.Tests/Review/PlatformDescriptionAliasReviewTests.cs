using System.Text.Json.Nodes;
using VirtioRpmsg.Lifecycle;
using static VirtioRpmsg.Tests.Lifecycle.PlatformTestJson;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// One piece of memory is one region: two uio regions on the same map of the same device, or two devMem regions whose
/// physical ranges overlap, would map the same memory twice at different device addresses (as one shmFile in two
/// regions, which is refused): a write through one is a write through the other, and the layout's no-overlap checks
/// (which compare device addresses) cannot see it. And <c>null</c> for an optional field is the field left out.
/// </summary>
public sealed class PlatformDescriptionAliasReviewTests
{
    private static void AddRegion(JsonObject t, string json) => t["regions"]!.AsArray().Add(JsonNode.Parse(json));

    [Theory]
    [InlineData("""{ "name": "a", "kind": "uio", "device": "uio3", "mapIndex": 1, "deviceAddress": "0x100000", "size": "0x1000" }""",
                """{ "name": "b", "kind": "uio", "device": "/dev/uio3", "mapIndex": 1, "deviceAddress": "0x200000", "size": "0x1000" }""")]
    [InlineData("""{ "name": "a", "kind": "uio", "device": "uio3", "deviceAddress": "0x100000" }""",
                """{ "name": "b", "kind": "uio", "device": "uio3", "mapIndex": 0, "deviceAddress": "0x200000" }""")]
    [InlineData("""{ "name": "a", "kind": "uio", "deviceName": "rpmsg-shm" }""",
                """{ "name": "b", "kind": "uio", "deviceName": "rpmsg-shm", "deviceAddress": "0x200000" }""")]
    public void Parse_TwoUioRegionsOnOneMap_IsRejectedNamingBoth(string first, string second)
    {
        var e = Reject(t =>
        {
            AddRegion(t, first);
            AddRegion(t, second);
        }, "regions[2].mapIndex");

        Assert.Contains("regions[1] 'a'", e.Detail, StringComparison.Ordinal);
        Assert.Contains("'b'", e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UioRegionsOnTwoMapsOfOneDevice_AreAccepted()
    {
        var d = PlatformDescription.Parse(Mutate(t =>
        {
            AddRegion(t, """{ "name": "a", "kind": "uio", "device": "uio3", "mapIndex": 0 }""");
            AddRegion(t, """{ "name": "b", "kind": "uio", "device": "uio3", "mapIndex": 1 }""");
        }));

        Assert.Equal(3, d.Regions.Count);
    }

    [Theory]
    [InlineData("0x3EE00000", "0x3EE04000", "[0x3EE04000, +0x4000)")] // b starts inside a
    [InlineData("0x3EE04000", "0x3EE00000", "[0x3EE04000, +0x4000)")] // a starts inside b
    [InlineData("0x3EE00000", "0x3EE00000", "[0x3EE00000, +0x8000)")] // the same range
    public void Parse_TwoDevMemRegionsOverlappingPhysically_IsRejectedNamingBothAndTheOverlap(string pa, string pb, string overlap)
    {
        var e = Reject(t =>
        {
            t["allowedDevMemRanges"] = JsonNode.Parse("""[{ "start": "0x3ee00000", "size": "0x100000" }]""");
            AddRegion(t, $$"""{ "name": "a", "kind": "devMem", "physicalAddress": "{{pa}}", "deviceAddress": "0x100000", "size": "0x8000" }""");
            AddRegion(t, $$"""{ "name": "b", "kind": "devMem", "physicalAddress": "{{pb}}", "deviceAddress": "0x200000", "size": "0x8000" }""");
        }, "regions[2].physicalAddress");

        Assert.Equal(pb, e.Value);
        Assert.Contains("regions[1] 'a'", e.Detail, StringComparison.Ordinal);
        Assert.Contains("'b'", e.Detail, StringComparison.Ordinal);
        Assert.Contains(overlap, e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_AdjacentDevMemRegions_AreAccepted()
    {
        var d = PlatformDescription.Parse(Mutate(t =>
        {
            t["allowedDevMemRanges"] = JsonNode.Parse("""[{ "start": "0x3ee00000", "size": "0x100000" }]""");
            AddRegion(t, """{ "name": "a", "kind": "devMem", "physicalAddress": "0x3ee00000", "deviceAddress": "0x100000", "size": "0x8000" }""");
            AddRegion(t, """{ "name": "b", "kind": "devMem", "physicalAddress": "0x3ee08000", "deviceAddress": "0x200000", "size": "0x8000" }""");
        }));

        Assert.Equal(3, d.Regions.Count);
    }

    // docs/platform-description.md, Syntax: null for an optional field is the field left out (its default).
    [Theory]
    [InlineData("vdev", "bufferCount")]
    [InlineData("vdev", "vringRegion")]
    [InlineData("", "waitStrategy")]
    [InlineData("", "barriers")]
    [InlineData("", "additionalVdevs")]
    [InlineData("", "allowedDevMemRanges")]
    [InlineData("regions[0]", "guardPages")]
    [InlineData("regions[0]", "memory")]
    [InlineData("resourceTable", "size")]
    public void Parse_NullForAnOptionalField_IsTheFieldLeftOut(string parent, string field)
    {
        var withNull = PlatformDescription.Parse(Mutate(t => Parent(t, parent)[field] = null));
        var without = PlatformDescription.Parse(Mutate(t => Parent(t, parent).Remove(field)));

        Assert.Equal(without.ToJson(), withNull.ToJson());
    }

    [Fact]
    public void Parse_NullMailboxKind_IsTheDefaultRegisterKind()
    {
        static string WithMailbox(string kind) => Mutate(t =>
        {
            AddRegion(t, """{ "name": "mbox", "kind": "anonymous", "deviceAddress": "0x100000", "size": "0x1000" }""");
            t["doorbell"] = JsonNode.Parse($$"""{ "kind": "uio", "device": "uio0", "mailbox": { {{kind}} "region": "mbox", "offset": "0x0" } }""");
        });

        var withNull = PlatformDescription.Parse(WithMailbox("\"kind\": null,"));
        var without = PlatformDescription.Parse(WithMailbox(""));

        Assert.Equal(MailboxKind.Register, withNull.Doorbell.Mailbox!.Kind);
        Assert.Equal(without.ToJson(), withNull.ToJson());
    }

    [Theory]
    [InlineData("", "role")]
    [InlineData("", "regions")]
    [InlineData("", "vdev")]
    [InlineData("", "doorbell")]
    [InlineData("", "resourceTable")]
    [InlineData("regions[0]", "name")]
    [InlineData("regions[0]", "kind")]
    [InlineData("doorbell", "kind")]
    public void Parse_NullForARequiredField_IsRejectedSayingNull(string parent, string field)
    {
        string path = parent.Length == 0 ? field : parent + "." + field;

        var e = Reject(t => Parent(t, parent)[field] = null, path);

        Assert.Equal("null", e.Value);
    }

    private static JsonObject Parent(JsonObject t, string parent) => parent switch
    {
        "" => t,
        "regions[0]" => Region(t, 0),
        _ => t[parent]!.AsObject(),
    };
}
