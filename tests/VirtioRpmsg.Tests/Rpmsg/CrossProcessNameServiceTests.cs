using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>Name service across processes: the remote (child) announces and destroys, the host binds and unbinds.</summary>
public sealed class CrossProcessNameServiceTests
{
    [Fact]
    public void LinkUp_EchoServiceAnnounced_ChannelPointsAtTheRemotesEchoEndpoint()
    {
        using var xp = CrossProcessRemote.Start();
        var channel = xp.WaitForChannel(SimulatedRemote.EchoServiceName);
        Assert.Equal(xp.EchoAddress, channel.RemoteAddress);
        Assert.True(channel.LocalAddress >= RpmsgAddress.FirstDynamic);
        Assert.True(xp.Host.NameServiceEnabled);
        Assert.Equal(SimulatedRemote.DeviceFeatures, xp.Host.NegotiatedFeatures);
    }

    [Fact]
    public void Announce_ThenDestroy_HostBindsThenUnbindsTheChannel()
    {
        using var xp = CrossProcessRemote.Start(services: "xp-svc");
        uint address = Convert.ToUInt32(xp.Process.Command("announce xp-svc"), 16);
        var channel = xp.WaitForChannel("xp-svc", address);

        // The announced endpoint echoes: the channel works in both directions.
        byte[] reply = new byte[channel.Endpoint.MaxPayload];
        var r = CrossProcessRemote.RoundTrip(channel.Endpoint, channel.RemoteAddress, "bound"u8, reply);
        Assert.Equal(address, r.Source);
        Assert.Equal("bound"u8.ToArray(), reply[..r.Length]);

        xp.Process.Command("destroy xp-svc");
        xp.WaitForRemoval(channel);
        Assert.DoesNotContain(xp.Host.Channels, c => c.Name == "xp-svc");
        Assert.True(channel.Endpoint.IsDestroyed);
    }

    [Fact]
    public void Announce_NoDriverForTheName_RaisesUnboundServiceAndBindsWhenADriverRegisters()
    {
        using var xp = CrossProcessRemote.Start();
        uint address = Convert.ToUInt32(xp.Process.Command("announce xp-late"), 16);
        xp.WaitUntil(() => xp.Unbound.Contains(("xp-late", address)), "unbound-service event for xp-late");
        Assert.DoesNotContain(xp.Host.Channels, c => c.Name == "xp-late");

        xp.Host.RegisterDriver(new RpmsgServiceDriver("xp-late"));
        var channel = xp.WaitForChannel("xp-late", address);
        Assert.Equal(address, channel.RemoteAddress);
    }

    [Fact]
    public void Announce_AgainAfterDestroy_NewChannelReplacesTheOld()
    {
        using var xp = CrossProcessRemote.Start(services: "xp-a");
        uint first = Convert.ToUInt32(xp.Process.Command("announce xp-a"), 16);
        var a = xp.WaitForChannel("xp-a", first);
        xp.Process.Command("destroy xp-a");
        xp.WaitForRemoval(a);
        uint second = Convert.ToUInt32(xp.Process.Command("announce xp-a"), 16);
        var b = xp.WaitForChannel("xp-a", second);
        Assert.NotSame(a, b);
        Assert.Single(xp.Host.Channels, c => c.Name == "xp-a");
    }
}
