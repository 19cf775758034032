using System.Text.Json.Nodes;
using VirtioRpmsg.Lifecycle;
using static VirtioRpmsg.Tests.Lifecycle.PlatformTestJson;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// A TI mailbox cluster's FIFO and interrupt-user counts per devicetree compatible (Linux's ti,omap-mailbox.yaml:
/// ti,omap4-mailbox 8 or 12 FIFOs and 3 or 4 users, ti,am654-/ti,am64-mailbox 16 and 4): a FIFO or user the cluster
/// does not have is rejected at load, naming the field and value, not written to at run time.
/// </summary>
public sealed class PlatformTiMailboxClusterTests
{
    private static void WithMailbox(JsonObject t, string mailbox)
    {
        t["regions"]!.AsArray().Add(JsonNode.Parse("""{ "name": "mbox", "kind": "anonymous", "deviceAddress": "0x100000", "size": "0x1000" }"""));
        t["doorbell"] = JsonNode.Parse($$"""{ "kind": "uio", "device": "uio0", "mailbox": {{mailbox}} }""");
    }

    private static string Ti(string extra) => $$"""{ "kind": "tiMailbox", "region": "mbox", "offset": 0, {{extra}} }""";

    // mailbox fields -> (path named, value shown)
    public static TheoryData<string, string, string> Rejections => new()
    {
        { """ "compatible": "ti,omap4-mailbox", "txChannel": 8, "rxChannel": 0, "user": 0 """, "doorbell.mailbox.txChannel", "8" },
        { """ "compatible": "ti,omap4-mailbox", "txChannel": 0, "rxChannel": 15, "user": 0 """, "doorbell.mailbox.rxChannel", "15" },
        { """ "compatible": "ti,omap4-mailbox", "fifoCount": 12, "txChannel": 0, "rxChannel": 12, "user": 0 """, "doorbell.mailbox.rxChannel", "12" },
        { """ "compatible": "ti,omap4-mailbox", "txChannel": 1, "rxChannel": 0, "user": 3 """, "doorbell.mailbox.user", "3" },
        { """ "compatible": "ti,omap4-mailbox", "fifoCount": 16, "txChannel": 1, "rxChannel": 0, "user": 0 """, "doorbell.mailbox.fifoCount", "16" },
        { """ "compatible": "ti,omap4-mailbox", "userCount": 2, "txChannel": 1, "rxChannel": 0, "user": 0 """, "doorbell.mailbox.userCount", "2" },
        { """ "compatible": "ti,am654-mailbox", "fifoCount": 8, "txChannel": 1, "rxChannel": 0, "user": 0 """, "doorbell.mailbox.fifoCount", "8" },
        { """ "compatible": "ti,am64-mailbox", "userCount": 3, "txChannel": 1, "rxChannel": 0, "user": 0 """, "doorbell.mailbox.userCount", "3" },
        { """ "compatible": "ti,omap3-mailbox", "txChannel": 1, "rxChannel": 0, "user": 0 """, "doorbell.mailbox.compatible", "\"ti,omap3-mailbox\"" },
        { """ "compatible": "ti,k3-mailbox", "txChannel": 1, "rxChannel": 0, "user": 0 """, "doorbell.mailbox.compatible", "\"ti,k3-mailbox\"" },
        { """ "fifoCount": 8, "txChannel": 9, "rxChannel": 0, "user": 0 """, "doorbell.mailbox.txChannel", "9" },
        { """ "fifoCount": 17, "txChannel": 1, "rxChannel": 0, "user": 0 """, "doorbell.mailbox.fifoCount", "17" },
        { """ "userCount": 2, "txChannel": 1, "rxChannel": 0, "user": 2 """, "doorbell.mailbox.user", "2" },
    };

    [Theory]
    [MemberData(nameof(Rejections))]
    public void Parse_FifoOrUserTheClusterDoesNotHave_NamesFieldAndValue(string fields, string path, string value)
    {
        var e = Reject(t => WithMailbox(t, Ti(fields)), path);

        Assert.Equal(value, e.Value);
    }

    [Fact]
    public void Parse_Omap4Fifo8_TheMessageSaysWhy()
    {
        var e = Reject(t => WithMailbox(t, Ti(""" "compatible": "ti,omap4-mailbox", "txChannel": 8, "rxChannel": 0, "user": 0 """)), "doorbell.mailbox.txChannel");

        Assert.Contains("ti,omap4-mailbox has 8 FIFOs", e.Message);
        Assert.Contains("0-7", e.Message);
    }

    [Theory]
    [InlineData(""" "compatible": "ti,omap4-mailbox", "txChannel": 7, "rxChannel": 0, "user": 2 """)]
    [InlineData(""" "compatible": "ti,omap4-mailbox", "userCount": 4, "txChannel": 0, "rxChannel": 1, "user": 3 """)]
    [InlineData(""" "compatible": "ti,omap4-mailbox", "fifoCount": 12, "userCount": 4, "txChannel": 11, "rxChannel": 10, "user": 3 """)]
    [InlineData(""" "compatible": "ti,am654-mailbox", "txChannel": 15, "rxChannel": 14, "user": 3 """)]
    [InlineData(""" "compatible": "ti,am64-mailbox", "fifoCount": 16, "userCount": 4, "txChannel": 1, "rxChannel": 0, "user": 0 """)]
    [InlineData(""" "txChannel": 15, "rxChannel": 14, "user": 3 """)]
    public void Parse_FifosAndUserTheClusterHas_Accepted(string fields)
    {
        var m = PlatformDescription.Parse(Mutate(t => WithMailbox(t, Ti(fields)))).Doorbell.Mailbox!;

        Assert.Equal(MailboxKind.TiMailbox, m.Kind);
    }

    [Fact]
    public void Parse_CompatibleOnAnotherKind_IsRejected()
    {
        var e = Reject(t => WithMailbox(t, """{ "kind": "imxMu", "region": "mbox", "offset": 0, "compatible": "ti,omap4-mailbox" }"""), "doorbell.mailbox.compatible");

        Assert.Equal("\"ti,omap4-mailbox\"", e.Value);
    }
}
