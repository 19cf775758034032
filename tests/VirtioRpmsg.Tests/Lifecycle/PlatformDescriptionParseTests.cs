using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Tests.Lifecycle;

public class PlatformDescriptionParseTests
{
    // Every field of every kind at once (a uio board with an extra file, memfd, anonymous and devMem region).
    private const string Full = """
        // comments are allowed
        {
          "role": "remote",
          "regions": [
            { "name": "file", "kind": "shmFile", "path": "/dev/shm/x", "create": true, "deviceAddress": "0x0", "size": "0x80000", "guardPages": true },
            { "name": "fd", "kind": "memfd", "deviceAddress": 1048576, "size": "65536" },
            { "name": "u", "kind": "uio", "device": "/dev/uio3", "mapIndex": 2, "sysfsRoot": "/tmp/sys", "deviceAddress": "0x200000", "size": "0x10000" },
            { "name": "un", "kind": "uio", "deviceName": "rpmsg-mbox" },
            { "name": "dm", "kind": "devMem", "physicalAddress": "0x3ee00000", "path": "/dev/fakemem", "deviceAddress": "0x400000", "size": "0x1000" },
            { "name": "anon", "kind": "anonymous", "deviceAddress": "0x500000", "size": "0x1000" },
          ],
          "resourceTable": { "region": "file", "offset": "0x100", "size": "0x200" },
          "vdev": {
            "vring0Address": "ADDR_ANY", "vring1Address": "0x8000", "vringNum": 64, "vringAlign": 16, "vringRegion": "file",
            "bufferPoolAddress": "0x10000", "bufferPoolSize": "0x20000", "bufferCount": 128, "bufferSize": 1024,
          },
          "doorbell": {
            "kind": "uio", "deviceName": "rpmsg-mbox", "sysfsRoot": "/tmp/sys",
            "mailbox": { "region": "u", "offset": "0x10", "value": "0xAB", "statusOffset": "0x14", "statusFullMask": "0x80000000" },
          },
          "waitStrategy": "BusyPoll",
          "allowedDevMemRanges": [ { "start": "0x3ee00000", "size": "0x100000" } ],
        }
        """;

    [Fact]
    public void Parse_EveryField_ReadsEachValue()
    {
        var d = PlatformDescription.Parse(Full);

        Assert.Equal(PlatformRole.Remote, d.Role);
        Assert.Equal(6, d.Regions.Count);
        var file = d.Regions[0];
        Assert.Equal(("file", PlatformRegionKind.ShmFile, "/dev/shm/x", true, 0UL, 0x80000UL, true),
            (file.Name, file.Kind, file.Path, file.Create, file.DeviceAddress, file.Size, file.GuardPages));
        Assert.Equal((PlatformRegionKind.Memfd, 0x100000UL, 0x10000UL), (d.Regions[1].Kind, d.Regions[1].DeviceAddress, d.Regions[1].Size));
        var uio = d.Regions[2];
        Assert.Equal((PlatformRegionKind.Uio, "/dev/uio3", 2, "/tmp/sys", 0x200000UL, 0x10000UL), (uio.Kind, uio.Device, uio.MapIndex, uio.SysfsRoot, uio.DeviceAddress, uio.Size));
        Assert.Equal(("rpmsg-mbox", null, null), (d.Regions[3].DeviceName, d.Regions[3].Size, d.Regions[3].DeviceAddress));
        var devMem = d.Regions[4];
        Assert.Equal((PlatformRegionKind.DevMem, 0x3ee00000UL, "/dev/fakemem", 0x400000UL, 0x1000UL), (devMem.Kind, devMem.PhysicalAddress, devMem.Path, devMem.DeviceAddress, devMem.Size));
        Assert.Equal(PlatformRegionKind.Anonymous, d.Regions[5].Kind);
        Assert.Equal(("file", 0x100UL, 0x200UL), (d.ResourceTable!.Region, d.ResourceTable.Offset, d.ResourceTable.Size));
        var v = d.Vdev;
        Assert.Equal((0xFFFFFFFFUL, 0x8000UL, 64, 16, "file"), (v.Vring0Address, v.Vring1Address, v.VringNum, v.VringAlign, v.VringRegion));
        Assert.Equal((0x10000UL, 0x20000UL, 128, 1024), (v.BufferPoolAddress, v.BufferPoolSize, v.BufferCount, v.BufferSize));
        var b = d.Doorbell;
        Assert.Equal((PlatformDoorbellKind.Uio, "rpmsg-mbox", "/tmp/sys"), (b.Kind, b.DeviceName, b.SysfsRoot));
        Assert.Equal(("u", 0x10UL, 0xABUL, 0x14UL, 0x80000000UL), (b.Mailbox!.Region, b.Mailbox.Offset, b.Mailbox.Value, b.Mailbox.StatusOffset, b.Mailbox.StatusFullMask));
        Assert.Equal(PlatformWaitStrategy.BusyPoll, d.WaitStrategy);
        var allowed = Assert.Single(d.AllowedDevMemRanges!);
        Assert.Equal((0x3ee00000UL, 0x100000UL), (allowed.Start, allowed.Size));
    }

    [Fact]
    public void ToJson_EveryField_ParsesBackToTheSameJson()
    {
        string json = PlatformDescription.Parse(Full).ToJson();

        Assert.Equal(json, PlatformDescription.Parse(json).ToJson());
        Assert.Contains("\"vring0Address\": \"ADDR_ANY\"", json);
        Assert.Contains("\"kind\": \"shmFile\"", json);
        Assert.Contains("\"waitStrategy\": \"busyPoll\"", json);
    }

    [Theory]
    [InlineData("{ \"kind\": \"eventfd\", \"socket\": \"vrpmsg-x\" }", PlatformDoorbellKind.Eventfd)]
    [InlineData("{ \"kind\": \"eventfd\" }", PlatformDoorbellKind.Eventfd)]
    [InlineData("{ \"kind\": \"unixSocket\", \"path\": \"/tmp/s\", \"mode\": \"server\" }", PlatformDoorbellKind.UnixSocket)]
    [InlineData("{ \"kind\": \"unixSocket\", \"path\": \"@abstract\" }", PlatformDoorbellKind.UnixSocket)]
    [InlineData("{ \"kind\": \"uio\", \"device\": \"uio0\" }", PlatformDoorbellKind.Uio)]
    [InlineData("{ \"kind\": \"polling\" }", PlatformDoorbellKind.Polling)]
    public void Parse_EachDoorbellKind_Accepted(string doorbell, PlatformDoorbellKind kind)
    {
        var d = PlatformDescription.Parse(PlatformTestJson.Mutate(t => t["doorbell"] = System.Text.Json.Nodes.JsonNode.Parse(doorbell)));

        Assert.Equal(kind, d.Doorbell.Kind);
    }

    [Fact]
    public void Parse_SocketDoorbellFields_ReadBack()
    {
        var d = PlatformDescription.Parse(PlatformTestJson.Mutate(t => t["doorbell"] = System.Text.Json.Nodes.JsonNode.Parse("""{ "kind": "unixSocket", "path": "/tmp/s", "mode": "server" }""")));

        Assert.Equal(("/tmp/s", DoorbellSocketMode.Server), (d.Doorbell.Path, d.Doorbell.Mode));
    }

    [Theory]
    [InlineData("interrupt", PlatformWaitStrategy.Interrupt)]
    [InlineData("BusyPoll", PlatformWaitStrategy.BusyPoll)]
    [InlineData("HYBRID", PlatformWaitStrategy.Hybrid)]
    [InlineData("callerPoll", PlatformWaitStrategy.CallerPoll)]
    public void Parse_WaitStrategyAnyCase_MatchesEnum(string text, PlatformWaitStrategy expected)
    {
        var d = PlatformDescription.Parse(PlatformTestJson.Mutate(t => t["waitStrategy"] = text));

        Assert.Equal(expected, d.WaitStrategy);
    }

    [Fact]
    public void Parse_OptionalFieldsAbsent_DefaultsApply()
    {
        var d = PlatformDescription.Parse(PlatformTestJson.Mutate(t =>
        {
            t.Remove("waitStrategy");
            var vdev = t["vdev"]!.AsObject();
            vdev.Remove("vringNum");
            vdev.Remove("vringAlign");
            vdev.Remove("bufferCount");
            vdev.Remove("bufferSize");
        }));

        Assert.Equal(PlatformWaitStrategy.Interrupt, d.WaitStrategy);
        Assert.Null(d.Vdev.VringNum);
        Assert.Null(d.AllowedDevMemRanges);
        Assert.Null(d.ResourceTable!.Size);
    }

    [Fact]
    public void Parse_ResourceTableNone_IsNullAndWritesNone()
    {
        var d = PlatformDescription.Parse(PlatformTestJson.Mutate(t => t["resourceTable"] = "none"));

        Assert.Null(d.ResourceTable);
        Assert.Contains("\"resourceTable\": \"none\"", d.ToJson());
    }

    [Theory]
    [InlineData("16384")]
    [InlineData("\"16384\"")]
    [InlineData("\"0x4000\"")]
    [InlineData("\"0X4000\"")]
    public void Parse_NumberSpellings_AllMeanTheSameAddress(string spelling)
    {
        var d = PlatformDescription.Parse(PlatformTestJson.Mutate(t => t["vdev"]!["vring0Address"] = System.Text.Json.Nodes.JsonNode.Parse(spelling)));

        Assert.Equal(0x4000UL, d.Vdev.Vring0Address);
    }

    [Fact]
    public void Parse_HostWithTableAndNoVringFields_TakesThemLater()
    {
        var d = PlatformDescription.Parse(PlatformTestJson.Mutate(t =>
        {
            var vdev = t["vdev"]!.AsObject();
            foreach (string name in new[] { "vring0Address", "vring1Address", "vringNum", "vringAlign" })
                vdev.Remove(name);
        }));

        Assert.Null(d.Vdev.Vring0Address);
        Assert.Null(d.Vdev.VringNum);
    }

    [Fact]
    public void OpenAmpLinux_Host_DescribesTheOpenAmpMachine()
    {
        var d = PlatformDescription.OpenAmpLinux(PlatformRole.Host);

        var shm = Assert.Single(d.Regions);
        Assert.Equal((PlatformRegionKind.ShmFile, "/dev/shm/openamp.shm", 0UL, 0x80000UL), (shm.Kind, shm.Path, shm.DeviceAddress, shm.Size));
        Assert.Equal(("shm", 0UL), (d.ResourceTable!.Region, d.ResourceTable.Offset));
        Assert.Equal((0x4000UL, 0x8000UL, 256, 0x1000), (d.Vdev.Vring0Address, d.Vdev.Vring1Address, d.Vdev.VringNum, d.Vdev.VringAlign));
        Assert.Equal((0x10000UL, 0x40000UL), (d.Vdev.BufferPoolAddress, d.Vdev.BufferPoolSize));
        Assert.Equal((PlatformDoorbellKind.UnixSocket, "/tmp/openamp.event.0", DoorbellSocketMode.Client), (d.Doorbell.Kind, d.Doorbell.Path, d.Doorbell.Mode));
    }

    [Fact]
    public void OpenAmpLinux_Remote_IsTheSocketServer()
    {
        var d = PlatformDescription.OpenAmpLinux(PlatformRole.Remote);

        Assert.Equal(PlatformRole.Remote, d.Role);
        Assert.Equal(DoorbellSocketMode.Server, d.Doorbell.Mode);
        d.Validate();
    }

    [Fact]
    public void SimulatedPlatformDescription_Path_OneSharedFileWithEventFdOverDescriptorPassing()
    {
        var d = SimulatedPlatform.Description("/dev/shm/vrpmsg-test-sim");

        d.Validate();
        var shm = Assert.Single(d.Regions);
        Assert.Equal(("/dev/shm/vrpmsg-test-sim", true, 0UL, 0x80000UL), (shm.Path, shm.Create, shm.DeviceAddress, shm.Size));
        Assert.Equal(PlatformDoorbellKind.Eventfd, d.Doorbell.Kind);
        Assert.Equal("vrpmsg:/dev/shm/vrpmsg-test-sim", d.Doorbell.Socket);
        Assert.Equal(0x4000UL, d.Vdev.Vring0Address);
    }
}
