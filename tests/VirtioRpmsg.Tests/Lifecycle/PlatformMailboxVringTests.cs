using System.Text.Json.Nodes;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using static VirtioRpmsg.Tests.Lifecycle.PlatformTestJson;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// A mailbox description names each vring's kick as the Linux driver for that controller does, unless it asks for one
/// fixed word: imx_rproc's notify id &lt;&lt; 16, the TI drivers' id, stm32_rproc's channel per vring.
/// </summary>
public sealed class PlatformMailboxVringTests
{
    private static (IMailbox Mailbox, PlatformResources Platform) Create(string mailbox, int vdev = 0)
    {
        var description = PlatformDescription.Parse(Mutate(t =>
        {
            t["resourceTable"] = "none";
            t["regions"]!.AsArray().Add(JsonNode.Parse("""{ "name": "mbox", "kind": "anonymous", "deviceAddress": "0x100000", "size": "0x1000" }"""));
            t["doorbell"] = JsonNode.Parse($$"""{ "kind": "uio", "device": "uio0", "mailbox": {{mailbox}} }""");
        }));
        var platform = PlatformResources.Open(description);
        return (PlatformMailboxes.Create(platform, description.Doorbell.Mailbox!, "", vdev), platform);
    }

    [Theory]
    [InlineData(0, 0x0u, 0x10000u)]
    [InlineData(1, 0x20000u, 0x30000u)] // Linux numbers the vrings of every vdev in table order
    public void ImxMu_NoValue_ImxRprocWordsForThisVdev(int vdev, uint vring0, uint vring1)
    {
        var (mailbox, platform) = Create("""{ "kind": "imxMu", "region": "mbox", "offset": 0 }""", vdev);
        using (platform)
            Assert.Equal([vring0, vring1], Assert.IsType<ImxMessagingUnit>(mailbox).VringValues);
    }

    [Fact]
    public void ImxMu_Value_OneFixedWord()
    {
        var (mailbox, platform) = Create("""{ "kind": "imxMu", "region": "mbox", "offset": 0, "value": "0x10000" }""");
        using (platform)
        {
            var mu = Assert.IsType<ImxMessagingUnit>(mailbox);
            Assert.Null(mu.VringValues);
            Assert.Equal(0x10000u, mu.RingValue);
        }
    }

    [Fact]
    public void ImxMu_VringValues_Taken()
    {
        var (mailbox, platform) = Create("""{ "kind": "imxMu", "region": "mbox", "offset": 0, "vringValues": ["0x40000", 327680] }""");
        using (platform)
            Assert.Equal([0x40000u, 0x50000u], Assert.IsType<ImxMessagingUnit>(mailbox).VringValues);
    }

    [Theory]
    [InlineData(0, 0u, 1u)]
    [InlineData(2, 4u, 5u)]
    public void TiMailbox_NoValue_TheNotifyIds(int vdev, uint vring0, uint vring1)
    {
        var (mailbox, platform) = Create("""{ "kind": "tiMailbox", "region": "mbox", "offset": 0, "txChannel": 1, "rxChannel": 0, "user": 0 }""", vdev);
        using (platform)
            Assert.Equal([vring0, vring1], Assert.IsType<TiMailbox>(mailbox).VringValues);
    }

    [Fact]
    public void Stm32Ipcc_NoChannels_Vq0AndVq1OnChannels0And1()
    {
        var (mailbox, platform) = Create("""{ "kind": "stm32Ipcc", "region": "mbox", "offset": 0 }""");
        using (platform)
            Assert.Equal([0, 1], Assert.IsType<Stm32Ipcc>(mailbox).VringChannels);
    }

    [Fact]
    public void Stm32Ipcc_VringChannels_Taken()
    {
        var (mailbox, platform) = Create("""{ "kind": "stm32Ipcc", "region": "mbox", "offset": 0, "vringChannels": [2, 3] }""");
        using (platform)
            Assert.Equal([2, 3], Assert.IsType<Stm32Ipcc>(mailbox).VringChannels);
    }

    [Fact]
    public void Stm32Ipcc_TxAndRxChannel_OneChannelEachWayAsBefore()
    {
        var (mailbox, platform) = Create("""{ "kind": "stm32Ipcc", "region": "mbox", "offset": 0, "txChannel": 1, "rxChannel": 0 }""");
        using (platform)
        {
            var ipcc = Assert.IsType<Stm32Ipcc>(mailbox);
            Assert.Null(ipcc.VringChannels);
            Assert.Equal((1, 0), (ipcc.TxChannel, ipcc.RxChannel));
        }
    }

    // mailbox JSON -> (path named, value shown)
    public static TheoryData<string, string, string> Rejections => new()
    {
        { """{ "kind": "imxMu", "region": "mbox", "offset": 0, "value": 1, "vringValues": [0, 1] }""", "doorbell.mailbox.vringValues", "[0x0, 0x1]" },
        { """{ "kind": "imxMu", "region": "mbox", "offset": 0, "vringValues": [0] }""", "doorbell.mailbox.vringValues", "[0x0]" },
        { """{ "kind": "imxMu", "region": "mbox", "offset": 0, "vringValues": [0, "0x100000000"] }""", "doorbell.mailbox.vringValues[1]", "0x100000000" },
        { """{ "kind": "imxMu", "region": "mbox", "offset": 0, "signal": "generalPurpose", "vringValues": [0, 1] }""", "doorbell.mailbox.vringValues", "[0x0, 0x1]" },
        { """{ "kind": "xilinxIpi", "region": "mbox", "offset": 0, "peerMask": "0x100", "vringValues": [0, 1] }""", "doorbell.mailbox.vringValues", "[0x0, 0x1]" },
        { """{ "kind": "register", "region": "mbox", "offset": 0, "vringValues": [0, 1] }""", "doorbell.mailbox.vringValues", "[0x0, 0x1]" },
        { """{ "kind": "imxMu", "region": "mbox", "offset": 0, "vringChannels": [0, 1] }""", "doorbell.mailbox.vringChannels", "[0, 1]" },
        { """{ "kind": "stm32Ipcc", "region": "mbox", "offset": 0, "vringChannels": [1, 1] }""", "doorbell.mailbox.vringChannels", "[1, 1]" },
        { """{ "kind": "stm32Ipcc", "region": "mbox", "offset": 0, "vringChannels": [0, 6] }""", "doorbell.mailbox.vringChannels[1]", "6" },
        { """{ "kind": "stm32Ipcc", "region": "mbox", "offset": 0, "vringChannels": [0, 1, 2] }""", "doorbell.mailbox.vringChannels", "[0, 1, 2]" },
        { """{ "kind": "stm32Ipcc", "region": "mbox", "offset": 0, "vringChannels": [0, 1], "txChannel": 1 }""", "doorbell.mailbox.txChannel", "1" },
        { """{ "kind": "stm32Ipcc", "region": "mbox", "offset": 0, "txChannel": 1 }""", "doorbell.mailbox.rxChannel", "(missing)" },
    };

    [Theory]
    [MemberData(nameof(Rejections))]
    public void Parse_BadVringSignal_NamesFieldAndValue(string mailbox, string path, string value)
    {
        var e = Reject(t =>
        {
            t["regions"]!.AsArray().Add(JsonNode.Parse("""{ "name": "mbox", "kind": "anonymous", "deviceAddress": "0x100000", "size": "0x1000" }"""));
            t["doorbell"] = JsonNode.Parse($$"""{ "kind": "uio", "device": "uio0", "mailbox": {{mailbox}} }""");
        }, path);

        Assert.Equal(value, e.Value);
    }

    [Theory]
    [InlineData("imx8mm-m4.json")]
    [InlineData("am62x-m4f.json")]
    [InlineData("stm32mp157-m4.json")]
    public void BoardExample_NamesEachVringAsLinuxDoes(string file)
    {
        var m = PlatformDescription.Load(Path.Combine(ExamplesDirectory(), file)).Doorbell.Mailbox!;

        // No fixed word and no single channel each way: the defaults above, which are the Linux driver's.
        Assert.Null(m.Value);
        if (m.Kind == MailboxKind.Stm32Ipcc)
            Assert.Null(m.TxChannel);
    }
}
