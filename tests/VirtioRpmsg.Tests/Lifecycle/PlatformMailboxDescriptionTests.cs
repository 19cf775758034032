using System.Text.Json.Nodes;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using static VirtioRpmsg.Tests.Lifecycle.PlatformTestJson;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>The uio doorbell's mailbox kinds in the platform description: parsing, every rejection naming field and value, and the driver each creates.</summary>
public sealed class PlatformMailboxDescriptionTests
{
    private static void WithMailbox(JsonObject t, string mailbox)
    {
        t["regions"]!.AsArray().Add(JsonNode.Parse("""{ "name": "mbox", "kind": "anonymous", "deviceAddress": "0x100000", "size": "0x1000" }"""));
        t["doorbell"] = JsonNode.Parse($$"""{ "kind": "uio", "device": "uio0", "mailbox": {{mailbox}} }""");
    }

    private static MailboxDescription Parse(string mailbox) =>
        PlatformDescription.Parse(Mutate(t => WithMailbox(t, mailbox))).Doorbell.Mailbox!;

    // mailbox JSON -> (path named, value shown)
    public static TheoryData<string, string, string> Rejections => new()
    {
        { """{ "kind": "imxMuu", "region": "mbox", "offset": 0 }""", "doorbell.mailbox.kind", "\"imxMuu\"" },
        { """{ "kind": "imxMu", "region": "mbox", "offset": 0, "txChannel": 4 }""", "doorbell.mailbox.txChannel", "4" },
        { """{ "kind": "imxMu", "region": "mbox", "offset": 0, "rxChannel": -1 }""", "doorbell.mailbox.rxChannel", "-1" },
        { """{ "kind": "imxMu", "region": "mbox", "offset": 0, "signal": "doorbell" }""", "doorbell.mailbox.signal", "\"doorbell\"" },
        { """{ "kind": "imxMu", "region": "mbox", "offset": 0, "layout": "v3" }""", "doorbell.mailbox.layout", "\"v3\"" },
        { """{ "kind": "imxMu", "region": "mbox", "offset": 0, "signal": "generalPurpose", "value": 1 }""", "doorbell.mailbox.value", "0x1" },
        { """{ "kind": "imxMu", "region": "mbox", "offset": 0, "user": 0 }""", "doorbell.mailbox.user", "0" },
        { """{ "kind": "imxMu", "region": "mbox", "offset": 0, "statusOffset": 4, "statusFullMask": 1 }""", "doorbell.mailbox.statusOffset", "0x4" },
        { """{ "kind": "imxMu", "region": "mbox", "offset": 2 }""", "doorbell.mailbox.offset", "0x2" },
        { """{ "kind": "imxMu", "region": "mbox", "offset": "0xFE0" }""", "doorbell.mailbox.offset", "0xFE0" },
        { """{ "kind": "imxMu", "region": "mbox", "offset": "0xE00", "layout": "v2" }""", "doorbell.mailbox.offset", "0xE00" },
        { """{ "kind": "tiMailbox", "region": "mbox", "offset": 0, "rxChannel": 0, "user": 0 }""", "doorbell.mailbox.txChannel", "(missing)" },
        { """{ "kind": "tiMailbox", "region": "mbox", "offset": 0, "txChannel": 16, "rxChannel": 0, "user": 0 }""", "doorbell.mailbox.txChannel", "16" },
        { """{ "kind": "tiMailbox", "region": "mbox", "offset": 0, "txChannel": 1, "rxChannel": 1, "user": 0 }""", "doorbell.mailbox.rxChannel", "1" },
        { """{ "kind": "tiMailbox", "region": "mbox", "offset": 0, "txChannel": 1, "rxChannel": 0 }""", "doorbell.mailbox.user", "(missing)" },
        { """{ "kind": "tiMailbox", "region": "mbox", "offset": 0, "txChannel": 1, "rxChannel": 0, "user": 4 }""", "doorbell.mailbox.user", "4" },
        { """{ "kind": "tiMailbox", "region": "mbox", "offset": "0xF00", "txChannel": 1, "rxChannel": 0, "user": 0 }""", "doorbell.mailbox.offset", "0xF00" },
        { """{ "kind": "tiMailbox", "region": "mbox", "offset": 0, "txChannel": 1, "rxChannel": 0, "user": 0, "processor": 1 }""", "doorbell.mailbox.processor", "1" },
        { """{ "kind": "stm32Ipcc", "region": "mbox", "offset": 0, "rxChannel": 0 }""", "doorbell.mailbox.txChannel", "(missing)" },
        { """{ "kind": "stm32Ipcc", "region": "mbox", "offset": 0, "txChannel": 6, "rxChannel": 0 }""", "doorbell.mailbox.txChannel", "6" },
        { """{ "kind": "stm32Ipcc", "region": "mbox", "offset": 0, "txChannel": 0, "rxChannel": 0, "processor": 3 }""", "doorbell.mailbox.processor", "3" },
        { """{ "kind": "stm32Ipcc", "region": "mbox", "offset": 0, "txChannel": 0, "rxChannel": 0, "value": 1 }""", "doorbell.mailbox.value", "0x1" },
        { """{ "kind": "xilinxIpi", "region": "mbox", "offset": 0 }""", "doorbell.mailbox.peerMask", "(missing)" },
        { """{ "kind": "xilinxIpi", "region": "mbox", "offset": 0, "peerMask": 0 }""", "doorbell.mailbox.peerMask", "0x0" },
        { """{ "kind": "xilinxIpi", "region": "mbox", "offset": 0, "peerMask": "0x100000000" }""", "doorbell.mailbox.peerMask", "0x100000000" },
        { """{ "kind": "xilinxIpi", "region": "mbox", "offset": 0, "peerMask": "0x100", "txChannel": 1 }""", "doorbell.mailbox.txChannel", "1" },
        { """{ "kind": "xilinxIpi", "region": "mbox", "offset": "0xFF0", "peerMask": "0x100" }""", "doorbell.mailbox.offset", "0xFF0" },
        { """{ "kind": "register", "region": "mbox", "offset": 0, "peerMask": "0x100" }""", "doorbell.mailbox.peerMask", "0x100" },
    };

    [Theory]
    [MemberData(nameof(Rejections))]
    public void Parse_BadMailbox_NamesFieldAndValue(string mailbox, string path, string value)
    {
        var e = Reject(t => WithMailbox(t, mailbox), path);

        Assert.Equal(value, e.Value);
    }

    [Theory]
    [InlineData("generalPurpose", "v2")]
    [InlineData("GeneralPurpose", "V2")]
    [InlineData("GENERALPURPOSE", "V2")]
    public void Parse_ImxSignalAndLayout_MatchedCaseInsensitively_AsEveryEnumeration(string signal, string layout)
    {
        var m = Parse($$"""{ "kind": "imxMu", "region": "mbox", "offset": 0, "signal": "{{signal}}", "layout": "{{layout}}" }""");

        Assert.Equal((ImxMuSignal.GeneralPurpose, ImxMuLayout.V2), (m.ImxSignal, m.ImxLayout));
        // The word fields stay refused for a general-purpose signal however it is spelt.
        Reject(t => WithMailbox(t, $$"""{ "kind": "imxMu", "region": "mbox", "offset": 0, "signal": "{{signal}}", "value": 1 }"""), "doorbell.mailbox.value");
    }

    [Fact]
    public void Parse_NoKind_IsTheGenericRegister()
    {
        var m = Parse("""{ "region": "mbox", "offset": "0x10" }""");

        Assert.Equal(MailboxKind.Register, m.Kind);
    }

    [Fact]
    public void Parse_EachKind_KeepsItsFields()
    {
        var imx = Parse("""{ "kind": "imxMu", "region": "mbox", "offset": 0, "txChannel": 1, "rxChannel": 1, "value": "0x10000", "layout": "v1" }""");
        var ti = Parse("""{ "kind": "tiMailbox", "region": "mbox", "offset": 0, "txChannel": 1, "rxChannel": 0, "user": 0, "value": 1 }""");
        var ipcc = Parse("""{ "kind": "stm32Ipcc", "region": "mbox", "offset": 0, "txChannel": 0, "rxChannel": 1, "processor": 1 }""");
        var ipi = Parse("""{ "kind": "xilinxIpi", "region": "mbox", "offset": 0, "peerMask": "0x100" }""");

        Assert.Equal((MailboxKind.ImxMu, 1, 1, 0x10000UL), (imx.Kind, imx.TxChannel, imx.RxChannel, imx.Value));
        Assert.Equal((MailboxKind.TiMailbox, 1, 0, 0), (ti.Kind, ti.TxChannel, ti.RxChannel, ti.User));
        Assert.Equal((MailboxKind.Stm32Ipcc, 0, 1, 1), (ipcc.Kind, ipcc.TxChannel, ipcc.RxChannel, ipcc.Processor));
        Assert.Equal((MailboxKind.XilinxIpi, 0x100UL), (ipi.Kind, ipi.PeerMask));
    }

    // Opens the registers of the description's mailbox over an anonymous region standing in for the UIO map.
    private static (IMailbox Mailbox, SharedMemoryRegion Region, PlatformResources Platform) Create(string mailbox)
    {
        var description = PlatformDescription.Parse(Mutate(t =>
        {
            t["resourceTable"] = "none"; // nothing to load: only the registers matter here
            t["regions"]!.AsArray().Add(JsonNode.Parse("""{ "name": "mbox", "kind": "anonymous", "deviceAddress": "0x100000", "size": "0x1000" }"""));
            t["doorbell"] = JsonNode.Parse($$"""{ "kind": "uio", "device": "uio0", "mailbox": {{mailbox}} }""");
        }));
        var platform = PlatformResources.Open(description);
        return (PlatformMailboxes.Create(platform, description.Doorbell.Mailbox!), platform.GetRegion("mbox"), platform);
    }

    private static uint Word(SharedMemoryRegion region, long offset)
    {
        Assert.True(region.TryAcquire(region.Generation, out var lease));
        using (lease)
            return lease.ReadUInt32(offset);
    }

    [Fact]
    public void Create_XilinxIpiAtOffset_TriggersThroughTrigAtThatOffset()
    {
        var (mailbox, region, platform) = Create("""{ "kind": "xilinxIpi", "region": "mbox", "offset": "0x100", "peerMask": "0x100" }""");
        using (platform)
        {
            Assert.IsType<XilinxIpi>(mailbox);
            Assert.True(mailbox.TryRing());
            Assert.Equal(0x100u, Word(region, 0x100));
        }
    }

    [Fact]
    public void Create_ImxMuDefaults_Channel1DataV1()
    {
        var (mailbox, region, platform) = Create("""{ "kind": "imxMu", "region": "mbox", "offset": 0, "value": "0x10000" }""");
        using (platform)
        {
            var mu = Assert.IsType<ImxMessagingUnit>(mailbox);
            Assert.Equal((ImxMuSignal.Data, ImxMuLayout.V1), (mu.Signal, mu.Layout));
            // Plain memory reads SR as 0: TE1 clear, so the ring is refused, as a full MU would be.
            Assert.False(mu.TryRing());
            Assert.Equal(0u, Word(region, 0x4));
        }
    }

    [Fact]
    public void Create_TiMailboxAndIpcc_TakeTheirChannels()
    {
        var (ti, _, p1) = Create("""{ "kind": "tiMailbox", "region": "mbox", "offset": 0, "txChannel": 1, "rxChannel": 0, "user": 2 }""");
        var (ipcc, _, p2) = Create("""{ "kind": "stm32Ipcc", "region": "mbox", "offset": 0, "txChannel": 1, "rxChannel": 0 }""");
        using (p1)
        using (p2)
        {
            Assert.Equal((1, 0, 2), (((TiMailbox)ti).TxFifo, ((TiMailbox)ti).RxFifo, ((TiMailbox)ti).User));
            Assert.Equal((1, 1, 0), (((Stm32Ipcc)ipcc).Processor, ((Stm32Ipcc)ipcc).TxChannel, ((Stm32Ipcc)ipcc).RxChannel));
        }
    }

    [Theory]
    [InlineData("imx8mm-m4.json", MailboxKind.ImxMu)]
    [InlineData("am62x-m4f.json", MailboxKind.TiMailbox)]
    [InlineData("stm32mp157-m4.json", MailboxKind.Stm32Ipcc)]
    [InlineData("zynqmp-r5.json", MailboxKind.XilinxIpi)]
    public void Load_BoardExample_UsesItsController(string file, MailboxKind kind)
    {
        var d = PlatformDescription.Load(Path.Combine(ExamplesDirectory(), file));

        Assert.Equal(PlatformDoorbellKind.Uio, d.Doorbell.Kind);
        Assert.Equal(kind, d.Doorbell.Mailbox!.Kind);
        Assert.Equal("mbox", d.Doorbell.Mailbox.Region);
    }
}
