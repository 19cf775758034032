using VirtioRpmsg;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (txpath): the remote role sends into buffers the host posted on vring 0. A host that posts one of 0 or 1
/// byte, or one the device may not write, gets the send refused with the specific fault (nothing is written into it,
/// the process goes on), and the device breaks for every later send.
/// </summary>
public class TxPathHostileReplyBufferReviewTests
{
    private const long FirstDescriptor = 0x4000; // vring 0, descriptor 0: the first buffer the remote takes

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    [InlineData(511u)]
    public void RemoteSend_HostPostsAShortBuffer_RefusedNamingTheLengthAndBreaks(uint length)
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        using (var lease = loop.Region.Acquire())
            lease.WriteUInt32(FirstDescriptor + 8, length);
        var ept = loop.Remote.CreateEndpoint();
        var ex = Assert.Throws<RpmsgConfigurationException>(() => ept.SendTo(0x400, [1, 2, 3]));
        Assert.Equal(FaultRule.BufferSizeMismatch, ex.Rule);
        Assert.Contains($"{length}-byte", ex.Message);
        Assert.Equal(RpmsgDeviceState.Broken, loop.Remote.State);
        Assert.Throws<RpmsgDeviceUnavailableException>(() => ept.SendTo(0x400, [4]));
    }

    [Fact]
    public void RemoteSend_HostPostsAReadOnlyBuffer_RefusedAsABadShapeAndBreaks()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        ulong before;
        using (var lease = loop.Region.Acquire())
        {
            before = lease.ReadUInt64(0x10000);
            lease.WriteUInt16(FirstDescriptor + 12, 0); // flags: no WRITE
        }
        var ept = loop.Remote.CreateEndpoint();
        var ex = Assert.Throws<RpmsgProtocolException>(() => ept.SendTo(0x400, [1, 2, 3]));
        Assert.Equal(FaultRule.BufferShape, ex.Rule);
        Assert.Equal(RpmsgDeviceState.Broken, loop.Remote.State);
        using (var lease = loop.Region.Acquire())
            Assert.Equal(before, lease.ReadUInt64(0x10000)); // nothing written into the host's buffer
    }
}
