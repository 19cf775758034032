using VirtioRpmsg;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// The remote role takes the next reply's buffer (a host rx buffer on vring 0) right after each send, not at the next
/// send, which an echo's host waits for (DeviceRoleTransport.ReserveNextReplyBuffer). What that early take meets is the
/// next send's failure, as it was before: the send that published its message succeeded.
/// </summary>
public class RemoteReplyBufferReserveTests
{
    private const long Vring0Descriptors = 0x4000; // vring 0's descriptor table in the loopback layout
    private const int DescriptorSize = 16;

    [Fact]
    public void RemoteSend_TakesTheNextHostRxBufferBeforeTheNextSend()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var transport = (DeviceRoleTransport)loop.Remote.Transport!;
        Assert.Empty(transport.TxHeadsInFlight());
        var ept = loop.Remote.CreateEndpoint();
        ept.SendTo(0x400, [1, 2, 3]);
        // Head 0 carried the message and went back; head 1 is taken, for the next send.
        Assert.Equal([1], transport.TxHeadsInFlight());
        ept.SendTo(0x400, [4]);
        Assert.Equal([2], transport.TxHeadsInFlight());
    }

    [Fact]
    public void RemoteSend_TheReservedBufferIsUsedByTheNextSend_MessagesArriveInOrder()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        using var host = loop.Host.CreateEndpoint(0x400);
        var ept = loop.Remote.CreateEndpoint();
        for (byte i = 0; i < 5; i++)
            ept.SendTo(0x400, [i, (byte)(i + 10)]);
        Span<byte> got = stackalloc byte[8];
        for (byte i = 0; i < 5; i++)
        {
            Assert.True(host.TryReceive(got, TimeSpan.FromSeconds(30), out var message));
            Assert.Equal(2, message.Length);
            Assert.Equal(i, got[0]);
            Assert.Equal(i + 10, got[1]);
        }
    }

    [Fact]
    public void RemoteSend_NextHostBufferTooShort_ThisSendSucceeds_TheNextIsRefusedNamingTheLength()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        using (var lease = loop.Region.Acquire())
            lease.WriteUInt32(Vring0Descriptors + DescriptorSize + 8, 7); // head 1: 7 bytes
        var ept = loop.Remote.CreateEndpoint();
        ept.SendTo(0x400, [1, 2, 3]); // head 0: fine, published
        Assert.Equal(RpmsgDeviceState.Running, loop.Remote.State);
        var ex = Assert.Throws<RpmsgConfigurationException>(() => ept.SendTo(0x400, [4]));
        Assert.Equal(FaultRule.BufferSizeMismatch, ex.Rule);
        Assert.Contains("7-byte", ex.Message);
        Assert.Equal(RpmsgDeviceState.Broken, loop.Remote.State);
    }

    [Fact]
    public void RemoteSend_NextHostBufferReadOnly_NothingWrittenIntoIt_TheNextSendRefusedAsABadShape()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        ulong address;
        ulong before;
        using (var lease = loop.Region.Acquire())
        {
            address = lease.ReadUInt64(Vring0Descriptors + DescriptorSize);
            before = lease.ReadUInt64((long)address);
            lease.WriteUInt16(Vring0Descriptors + DescriptorSize + 12, 0); // head 1: no WRITE flag
        }
        var ept = loop.Remote.CreateEndpoint();
        ept.SendTo(0x400, [1, 2, 3]);
        var ex = Assert.Throws<RpmsgProtocolException>(() => ept.SendTo(0x400, [4]));
        Assert.Equal(FaultRule.BufferShape, ex.Rule);
        Assert.Equal(RpmsgDeviceState.Broken, loop.Remote.State);
        using (var lease = loop.Region.Acquire())
            Assert.Equal(before, lease.ReadUInt64((long)address));
    }

    [Fact]
    public void EarlyTakeFailed_ThenABufferIsCancelled_TheNextSendThrowsTheFailure_NotFillingTheCancelledOne()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        using (var lease = loop.Region.Acquire())
            lease.WriteUInt32(Vring0Descriptors + 2 * DescriptorSize + 8, 7); // head 2: 7 bytes
        var ept = loop.Remote.CreateEndpoint();
        Assert.True(ept.TryGetTxBuffer(out var held)); // head 0, taken by the application
        ept.SendTo(0x400, [1]);                          // head 1; the take ahead meets head 2
        held.Dispose();                                  // head 0 back, unsent
        var ex = Assert.Throws<RpmsgConfigurationException>(() => ept.SendTo(0x400, [2]));
        Assert.Equal(FaultRule.BufferSizeMismatch, ex.Rule);
        Assert.Contains("7-byte", ex.Message);
        Assert.Equal(RpmsgDeviceState.Broken, loop.Remote.State);
    }
}
