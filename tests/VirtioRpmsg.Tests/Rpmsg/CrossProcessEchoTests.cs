using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>Payloads and addressing across processes, against the remote's echo service and command endpoint.</summary>
public sealed class CrossProcessEchoTests
{
    [Fact]
    public void Echo_EveryPayloadSizeFromZeroToMax_ComesBackUnchangedFromTheEchoAddress()
    {
        using var xp = CrossProcessRemote.Start();
        var channel = xp.WaitForChannel(SimulatedRemote.EchoServiceName);
        var ept = channel.Endpoint;
        byte[] reply = new byte[ept.MaxPayload];
        Assert.Equal(496, ept.MaxPayload);
        for (int size = 0; size <= ept.MaxPayload; size++)
        {
            byte[] payload = new byte[size];
            for (int i = 0; i < size; i++)
                payload[i] = (byte)(size + i * 13);
            ept.Send(payload, CrossProcessRemote.Limit);
            var r = ept.Receive(reply, CrossProcessRemote.Limit);
            Assert.Equal(channel.RemoteAddress, r.Source);
            Assert.Equal(size, r.Length);
            Assert.True(payload.AsSpan().SequenceEqual(reply.AsSpan(0, r.Length)), $"echo of {size} bytes differs");
        }
        Assert.Throws<RpmsgPayloadTooLargeException>(() => ept.Send(new byte[ept.MaxPayload + 1]));
    }

    [Fact]
    public void SendTo_UnboundEndpointToTheEchoAddress_ReplyComesBackFromTheEchoAddress()
    {
        using var xp = CrossProcessRemote.Start();
        using var ept = xp.Host.CreateEndpoint();
        byte[] reply = new byte[ept.MaxPayload];
        var r = CrossProcessRemote.RoundTrip(ept, xp.EchoAddress, "send-to"u8, reply);
        Assert.Equal(xp.EchoAddress, r.Source);
        Assert.Equal("send-to"u8.ToArray(), reply[..r.Length]);
    }

    [Fact]
    public void SendOffChannel_ExplicitSource_ReplyGoesToThatSourceNotTheSender()
    {
        using var xp = CrossProcessRemote.Start();
        using var sender = xp.Host.CreateEndpoint();
        using var other = xp.Host.CreateEndpoint();
        sender.SendOffChannel(other.Address, xp.EchoAddress, "off-channel"u8, CrossProcessRemote.Limit);
        byte[] reply = new byte[other.MaxPayload];
        var r = other.Receive(reply, CrossProcessRemote.Limit);
        Assert.Equal(xp.EchoAddress, r.Source);
        Assert.Equal("off-channel"u8.ToArray(), reply[..r.Length]);
        Assert.False(sender.TryReceive(reply, TimeSpan.Zero, out _));
    }

    [Fact]
    public void RemoteSend_ToAFixedHostAddress_ArrivesWithTheRemoteSourceOrTheOffChannelSource()
    {
        using var xp = CrossProcessRemote.Start();
        using var ept = xp.Host.CreateEndpoint(0x3000);
        byte[] reply = new byte[ept.MaxPayload];

        xp.Process.Command("send 0x3000 C0FFEE");
        var r = ept.Receive(reply, CrossProcessRemote.Limit);
        Assert.Equal(xp.Process.CommandEndpointAddress, r.Source);
        Assert.Equal(new byte[] { 0xC0, 0xFF, 0xEE }, reply[..r.Length]);

        xp.Process.Command("send 0x3000 01 0x777");
        r = ept.Receive(reply, CrossProcessRemote.Limit);
        Assert.Equal(0x777u, r.Source);
        Assert.Equal(new byte[] { 1 }, reply[..r.Length]);
    }

    [Fact]
    public void CreateEndpoint_AddressAny_AllocatesDynamicAddressesAndReusesAFreedOne()
    {
        using var xp = CrossProcessRemote.Start();
        var first = xp.Host.CreateEndpoint();
        using var second = xp.Host.CreateEndpoint();
        Assert.True(first.Address >= RpmsgAddress.FirstDynamic);
        Assert.NotEqual(first.Address, second.Address);
        uint freed = first.Address;
        first.Dispose();
        using var third = xp.Host.CreateEndpoint();
        Assert.Equal(freed, third.Address);

        // The reused address is live across the processes.
        xp.Process.Command($"send 0x{freed:X} 2A");
        byte[] reply = new byte[third.MaxPayload];
        var r = third.Receive(reply, CrossProcessRemote.Limit);
        Assert.Equal(new byte[] { 0x2A }, reply[..r.Length]);
    }

    [Fact]
    public void Announce_AddressAnyAfterADestroy_TheRemoteReusesTheFreedAddress()
    {
        using var xp = CrossProcessRemote.Start(services: ["xp-one", "xp-two"]);
        uint one = Convert.ToUInt32(xp.Process.Command("announce xp-one"), 16);
        Assert.True(one >= RpmsgAddress.FirstDynamic);
        var channel = xp.WaitForChannel("xp-one", one);
        xp.Process.Command("destroy xp-one");
        xp.WaitForRemoval(channel);
        uint two = Convert.ToUInt32(xp.Process.Command("announce xp-two"), 16);
        Assert.Equal(one, two);
        Assert.Equal(two, xp.WaitForChannel("xp-two").RemoteAddress);
    }
}
