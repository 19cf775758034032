using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;
using VirtioRpmsg.VhostUser;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (txpath): a name-service message is 40 bytes, so a buffer of less than 56 bytes (with the 16-byte header)
/// cannot carry one. A layout accepts buffers down to 17 bytes; with the name service on, every announcement then failed
/// where it was sent: <c>CreateNamedEndpoint</c> threw <see cref="RpmsgPayloadTooLargeException"/> about a "payload" the
/// caller never passed (with the endpoint left in the table), and a remote's announcements at link-up failed its
/// dispatcher thread, breaking the device as "dispatcher failed". Now the device is refused when it is created, naming
/// the buffer size; without the name service such buffers work, down to one payload byte.
/// </summary>
public class TxPathSmallBufferNameServiceReviewTests
{
    [Theory]
    [InlineData(true, 17)]
    [InlineData(true, 55)]
    [InlineData(false, 48)]
    public void Create_NameServiceWithBuffersTooSmallForItsMessage_RefusedNamingTheBufferSize(bool host, int bufferSize)
    {
        var ex = Record.Exception(() => RpmsgLoopback.Create(hostBufferSize: host ? bufferSize : 512, remoteBufferSize: host ? 512 : bufferSize, start: false).Dispose());
        var refused = ex as ArgumentOutOfRangeException;
        Assert.True(refused is not null, $"got {ex?.GetType().Name}: {ex?.Message}");
        Assert.Contains("BufferSize", refused!.ParamName);
        Assert.Equal(bufferSize, refused.ActualValue);
        Assert.Contains("name-service", refused.Message);
    }

    // The vhost-user server creates a device per guest: refused when the server is created, not for every guest.
    [Fact]
    public void VhostUserServer_NameServiceWithBuffersTooSmall_RefusedWhenCreated()
    {
        var ex = Record.Exception(() => new VhostUserRpmsgServer("@vrpmsg-review-txpath-" + Guid.NewGuid().ToString("N"), new VhostUserRpmsgOptions { BufferSize = 48 }).Dispose());
        var refused = ex as ArgumentOutOfRangeException;
        Assert.True(refused is not null, $"got {ex?.GetType().Name}: {ex?.Message}");
        Assert.Equal("BufferSize", refused!.ParamName);
        Assert.Equal(48, refused.ActualValue);
        // Without the name service such buffers are accepted.
        new VhostUserRpmsgServer("@vrpmsg-review-txpath-" + Guid.NewGuid().ToString("N"),
            new VhostUserRpmsgOptions { BufferSize = 48, Device = new RpmsgDeviceOptions { Name = "vhost", NameService = false } }).Dispose();
    }

    [Fact]
    public void Send_NameServiceOffWithTheSmallestBuffers_CarriesZeroAndOneBytePayloads()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.NameService = false, remote: o => o.NameService = false,
            hostBufferSize: RpmsgHeader.Size + 1, remoteBufferSize: RpmsgHeader.Size + 1);
        var sink = loop.Remote.CreateEndpoint();
        var ept = loop.Host.CreateEndpoint(RpmsgAddress.Any, sink.Address);
        ept.Send([7]);
        ept.Send(ReadOnlySpan<byte>.Empty);
        Assert.Throws<RpmsgPayloadTooLargeException>(() => ept.Send([1, 2]));
        var buffer = new byte[1];
        Assert.Equal(1, sink.Receive(buffer, TimeSpan.FromSeconds(30)).Length);
        Assert.Equal(7, buffer[0]);
        Assert.Equal(0, sink.Receive(buffer, TimeSpan.FromSeconds(30)).Length);
    }
}
