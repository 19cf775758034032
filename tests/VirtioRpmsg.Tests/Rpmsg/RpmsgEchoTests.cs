using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>Name service, channels, addressing and echo over both roles in one process.</summary>
public class RpmsgEchoTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>Remote side of an echo service: sends every message back to its source.</summary>
    internal static RpmsgEndpoint AnnounceEcho(RpmsgDevice remote, string name = "rpmsg-echo", uint address = RpmsgAddress.Any) =>
        remote.CreateNamedEndpoint(name, address, (ept, src, payload) => ept.SendTo(src, payload));

    internal static RpmsgChannel BindEcho(RpmsgLoopback loop, string name = "rpmsg-echo")
    {
        var probed = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Host.RegisterDriver(new RpmsgServiceDriver(name) { Probe = ch => probed.TrySetResult(ch) });
        AnnounceEcho(loop.Remote, name);
        loop.WaitUntil(() => probed.Task.IsCompleted, "echo channel probed");
        return probed.Task.Result;
    }

    [Fact]
    public void Echo_EveryPayloadSize_ReturnsSameBytes()
    {
        using var loop = RpmsgLoopback.Create();
        var channel = BindEcho(loop);
        var reply = new byte[loop.Host.MaxPayload];
        for (int size = 0; size <= loop.Host.MaxPayload; size++)
        {
            var payload = new byte[size];
            for (int i = 0; i < size; i++)
                payload[i] = (byte)(i * 7 + size);
            channel.Send(payload);
            var result = channel.Endpoint.Receive(reply, Bound);
            Assert.Equal(channel.RemoteAddress, result.Source);
            Assert.Equal(size, result.Length);
            Assert.True(payload.AsSpan().SequenceEqual(reply.AsSpan(0, size)), $"payload of {size} bytes differs");
        }
    }

    [Fact]
    public void NameService_AnnounceThenDestroy_ProbesAndRemovesOnce()
    {
        using var loop = RpmsgLoopback.Create();
        int probes = 0, removes = 0;
        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc-a")
        {
            Probe = _ => Interlocked.Increment(ref probes),
            Remove = _ => Interlocked.Increment(ref removes),
        });
        var ept = loop.Remote.CreateNamedEndpoint("svc-a", RpmsgAddress.Any, (_, _, _) => { });
        loop.WaitUntil(() => Volatile.Read(ref probes) == 1, "probe");
        var channel = Assert.Single(loop.Host.Channels);
        Assert.Equal("svc-a", channel.Name);
        Assert.Equal(ept.Address, channel.RemoteAddress);
        Assert.True(channel.LocalAddress >= RpmsgAddress.FirstDynamic);

        ept.Dispose();
        loop.WaitUntil(() => Volatile.Read(ref removes) == 1, "remove");
        Assert.Empty(loop.Host.Channels);
        Assert.Equal(1, probes);
        Assert.True(channel.Endpoint.IsDestroyed);
    }

    [Fact]
    public void NameService_DuplicateAnnouncement_CreatesOneChannel()
    {
        using var loop = RpmsgLoopback.Create();
        int probes = 0;
        loop.Host.RegisterDriver(new RpmsgServiceDriver("dup") { Probe = _ => Interlocked.Increment(ref probes) });
        var ept = loop.Remote.CreateNamedEndpoint("dup", 0x500, (_, _, _) => { });
        var ns = new byte[NameServiceMessage.Size];
        new NameServiceMessage("dup", 0x500, NameServiceFlags.Create).Write(ns);
        // Announce the same service twice more, as a confused or recovering remote might.
        ept.SendOffChannel(0x500, RpmsgAddress.NameService, ns);
        ept.SendOffChannel(0x500, RpmsgAddress.NameService, ns);
        loop.WaitUntil(() => loop.Host.Counters.NameServiceDuplicates == 2, "duplicates counted");
        Assert.Single(loop.Host.Channels);
        Assert.Equal(1, probes);
    }

    [Fact]
    public void NameService_NoDriver_RaisesUnboundThenBindsOnRegister()
    {
        using var loop = RpmsgLoopback.Create();
        var unbound = new TaskCompletionSource<(string, uint)>(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Host.UnboundService += (name, addr) => unbound.TrySetResult((name, addr));
        var ept = loop.Remote.CreateNamedEndpoint("late", RpmsgAddress.Any, (_, _, _) => { });
        loop.WaitUntil(() => unbound.Task.IsCompleted, "unbound service");
        Assert.Equal(("late", ept.Address), unbound.Task.Result);
        Assert.Empty(loop.Host.Channels);

        int probes = 0;
        loop.Host.RegisterDriver(new RpmsgServiceDriver("late") { Probe = _ => probes++ });
        Assert.Equal(1, probes);
        Assert.Single(loop.Host.Channels);
    }

    [Fact]
    public void NameService_DestroyForUnknownChannel_CountsError()
    {
        using var loop = RpmsgLoopback.Create();
        var ept = loop.Remote.CreateEndpoint(0x600);
        var ns = new byte[NameServiceMessage.Size];
        new NameServiceMessage("ghost", 0x601, NameServiceFlags.Destroy).Write(ns);
        long before = loop.Host.Counters.Errors;
        ept.SendTo(RpmsgAddress.NameService, ns);
        loop.WaitUntil(() => loop.Host.Counters.Errors == before + 1, "error counted");
        Assert.Equal(RpmsgDeviceState.Running, loop.Host.State);
    }

    [Fact]
    public void SendTo_And_OffChannel_CarryExplicitAddresses()
    {
        using var loop = RpmsgLoopback.Create();
        var seen = new System.Collections.Concurrent.ConcurrentQueue<(uint Src, uint Dst)>();
        var target = loop.Remote.CreateEndpoint(0x700, (ept, src, _) => seen.Enqueue((src, ept.Address)));
        var other = loop.Remote.CreateEndpoint(0x701, (ept, src, _) => seen.Enqueue((src, ept.Address)));
        var sender = loop.Host.CreateEndpoint(0x800);

        sender.SendTo(0x700, [1]);
        sender.SendOffChannel(0x1234, 0x701, [2]);
        loop.WaitUntil(() => seen.Count == 2, "two messages");
        Assert.Equal([(0x800u, 0x700u), (0x1234u, 0x701u)], seen.ToArray());
    }

    [Fact]
    public void Send_RemoteLearnsHostAddressFromFirstMessage()
    {
        using var loop = RpmsgLoopback.Create();
        var channel = BindEcho(loop);
        var remoteEpt = loop.Remote.Endpoints.Single(e => e.Name == "rpmsg-echo");
        Assert.Equal(RpmsgAddress.Any, remoteEpt.RemoteAddress);
        channel.Send([9]);
        channel.Endpoint.Receive(new byte[16], Bound);
        Assert.Equal(channel.LocalAddress, remoteEpt.RemoteAddress);
    }

    [Fact]
    public void Send_RemoteAddressUnknown_WaitsForIt()
    {
        using var loop = RpmsgLoopback.Create();
        var remoteEpt = loop.Remote.CreateEndpoint(0x900);
        var hostEpt = loop.Host.CreateEndpoint(0xA00);
        // The remote does not know where to send yet: Send blocks until the host's first message teaches it.
        var send = Task.Run(() => remoteEpt.Send([42]));
        Assert.False(send.Wait(50));
        hostEpt.SendTo(0x900, [1]);
        Assert.True(send.Wait(Bound));
        var result = hostEpt.Receive(new byte[8], Bound);
        Assert.Equal(0x900u, result.Source);
    }

    [Fact]
    public void Send_RemoteAddressNeverKnown_TimesOut()
    {
        using var loop = RpmsgLoopback.Create();
        var ept = loop.Remote.CreateEndpoint(0x901);
        Assert.Throws<TimeoutException>(() => ept.Send([1], TimeSpan.FromMilliseconds(100)));
        Assert.False(ept.TrySend([1]));
    }

    [Fact]
    public void CreateEndpoint_AddrAny_AllocatesFrom1024AndReusesFreed()
    {
        using var loop = RpmsgLoopback.Create();
        var a = loop.Host.CreateEndpoint();
        var b = loop.Host.CreateEndpoint();
        var c = loop.Host.CreateEndpoint();
        Assert.Equal([1024u, 1025u, 1026u], new[] { a.Address, b.Address, c.Address });
        b.Dispose();
        var d = loop.Host.CreateEndpoint();
        Assert.Equal(1025u, d.Address);
        Assert.Throws<ArgumentException>(() => loop.Host.CreateEndpoint(1024));
        Assert.Throws<ArgumentException>(() => loop.Host.CreateEndpoint(RpmsgAddress.NameService));
    }

    [Fact]
    public void Receive_UnknownDestination_CountsDropAndKeepsRunning()
    {
        using var loop = RpmsgLoopback.Create();
        var ept = loop.Remote.CreateEndpoint(0x300);
        ept.SendTo(0x7777, [1, 2, 3]);
        loop.WaitUntil(() => loop.Host.Counters.Dropped == 1, "drop counted");
        var channel = BindEcho(loop);
        channel.Send([5]);
        Assert.Equal(1, channel.Endpoint.Receive(new byte[4], Bound).Length);
    }

    [Fact]
    public void Send_PayloadLargerThanBuffer_ThrowsSpecificError()
    {
        using var loop = RpmsgLoopback.Create();
        var ept = loop.Host.CreateEndpoint();
        var ex = Assert.Throws<RpmsgPayloadTooLargeException>(() => ept.SendTo(0x400, new byte[497]));
        Assert.Equal(497, ex.PayloadLength);
        Assert.Equal(496, ex.MaxPayload);
        Assert.Throws<RpmsgPayloadTooLargeException>(() => ept.TrySendTo(0x400, new byte[497]));
    }
}
