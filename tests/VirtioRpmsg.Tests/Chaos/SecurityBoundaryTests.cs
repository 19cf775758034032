using VirtioRpmsg.Chaos;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Lifecycle;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Chaos;

/// <summary>What a remote can make the host create or map: only allowed services, bounded endpoints, described /dev/mem ranges.</summary>
public class SecurityBoundaryTests
{
    [Fact]
    public void AllowedServices_AnnouncementNotListed_RefusedCountedAndLogged()
    {
        var log = new ChaosLog();
        using var loop = RpmsgLoopback.Create(host: o =>
        {
            o.AllowedServices = ["rpmsg-ok"];
            o.Logger = log;
        });
        int unbound = 0;
        loop.Host.UnboundService += (_, _) => Interlocked.Increment(ref unbound);
        loop.Host.RegisterDriver(new RpmsgServiceDriver("rpmsg-ok"));
        loop.Host.RegisterDriver(new RpmsgServiceDriver("rpmsg-evil"));

        using var evil = loop.Remote.CreateNamedEndpoint("rpmsg-evil", 0x400, (_, _, _) => { });
        using var ok = loop.Remote.CreateNamedEndpoint("rpmsg-ok", 0x401, (_, _, _) => { });
        loop.WaitUntil(() => loop.Host.Channels.Count == 1 && loop.Host.Counters.Errors == 1, "one channel and one refusal");

        Assert.Equal("rpmsg-ok", Assert.Single(loop.Host.Channels).Name);
        Assert.Equal(0, Volatile.Read(ref unbound));
        Assert.Contains(log.Entries, e => e.Contains("announcement of 'rpmsg-evil' at 0x400 refused: not in AllowedServices", StringComparison.Ordinal));
    }

    [Fact]
    public void AllowedServices_Null_EveryNameBinds()
    {
        using var loop = RpmsgLoopback.Create();
        loop.Host.RegisterDriver(new RpmsgServiceDriver("any-name"));

        using var ept = loop.Remote.CreateNamedEndpoint("any-name", 0x400, (_, _, _) => { });
        loop.WaitUntil(() => loop.Host.Channels.Count == 1, "the channel");

        Assert.Equal(0, loop.Host.Counters.Errors);
    }

    [Fact]
    public void MaxEndpoints_AnnouncementFlood_ChannelsCappedRestCounted()
    {
        const int max = 5;
        using var loop = RpmsgLoopback.Create(host: o => o.MaxEndpoints = max);
        loop.Host.RegisterDriver(new RpmsgServiceDriver("flood"));
        int free = max - loop.Host.Endpoints.Count;

        var endpoints = Enumerable.Range(0, 3 * max).Select(i => loop.Remote.CreateNamedEndpoint("flood", (uint)(0x400 + i), (_, _, _) => { })).ToList();
        loop.WaitUntil(() => loop.Host.Counters.NameServiceRefused == 3 * max - free, "every refused announcement counted");

        Assert.Equal(max, loop.Host.Endpoints.Count);
        Assert.Equal(free, loop.Host.Channels.Count);
        endpoints.ForEach(e => e.Dispose());
    }

    [Fact]
    public void MaxAnnouncedServices_UnboundFlood_RememberedAnnouncementsCapped()
    {
        const int max = 4;
        using var loop = RpmsgLoopback.Create(host: o => o.MaxAnnouncedServices = max);
        int unbound = 0;
        loop.Host.UnboundService += (_, _) => Interlocked.Increment(ref unbound);

        var endpoints = Enumerable.Range(0, 3 * max).Select(i => loop.Remote.CreateNamedEndpoint($"nobody-{i}", (uint)(0x400 + i), (_, _, _) => { })).ToList();
        loop.WaitUntil(() => loop.Host.Counters.NameServiceRefused == 2 * max, "every announcement beyond the limit counted");

        Assert.Equal(max, Volatile.Read(ref unbound));
        endpoints.ForEach(e => e.Dispose());
    }

    [Fact]
    public void Open_DevMemOutsideAllowListBuiltInCode_RejectedBeforeMapping()
    {
        // Parsing validates; a description changed in code afterwards must be validated again by Open,
        // before /dev/mem is touched (the path does not exist: opening it would be a different error).
        var parsed = PlatformDescription.Parse(PlatformTestJson.Mutate(t =>
        {
            t["regions"]!.AsArray().Insert(0, System.Text.Json.Nodes.JsonNode.Parse("""{ "name": "dm", "kind": "devMem", "physicalAddress": "0x100000", "path": "/nonexistent/vrpmsg-test-mem", "deviceAddress": "0x100000", "size": "0x1000" }"""));
            t["allowedDevMemRanges"] = System.Text.Json.Nodes.JsonNode.Parse("""[ { "start": "0x100000", "size": "0x1000" } ]""");
        }));
        var moved = parsed with { AllowedDevMemRanges = [new DevMemRange { Start = 0x200000, Size = 0x1000 }] };

        var e = Assert.Throws<PlatformDescriptionException>(() => PlatformResources.Open(moved));

        Assert.Equal("regions[0].physicalAddress", e.JsonPath);
        Assert.Contains("allowedDevMemRanges", e.Message);
    }
}
