using VirtioRpmsg.Interop;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Tests.VhostUser;
using VirtioRpmsg.VhostUser;
using static VirtioRpmsg.Tests.VhostUser.VhostUserTestFrontEnd;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (vhost4): descriptors a hostile front-end passes where none (or fewer) are taken are closed, never leaked.
/// Each probe is one end of a socketpair sent to the back-end and closed here: the other end reads end-of-file
/// only once every copy of it is closed, the back-end's included.
/// </summary>
public sealed class Vhost4DescriptorReviewTests
{
    private const uint V = VhostUserHeader.Version;

    private sealed class Probe : IDisposable
    {
        private readonly DescriptorWaiter _waiter = new("vhost4 probe");

        internal Probe()
        {
            NativeCallException.ThrowIfError(Native.SocketPair(Native.SockStream, out int ours, out int sent), "socketpair", "vhost4 probe");
            Ours = new FileDescriptor(ours);
            Sent = new FileDescriptor(sent);
        }

        internal FileDescriptor Ours { get; }

        internal FileDescriptor Sent { get; }

        /// <summary>True when every copy of the sent end is closed (our end reads end-of-file within the bound).</summary>
        internal bool AllCopiesClosed(TimeSpan within)
        {
            if (!_waiter.WaitReady(Ours, forWrite: false, Deadline.Within(within), CancellationToken.None))
                return false;
            Span<byte> one = stackalloc byte[1];
            return Native.Read(Ours.Value, one) == 0;
        }

        public void Dispose()
        {
            Sent.Dispose();
            Ours.Dispose();
            _waiter.Dispose();
        }
    }

    [Theory]
    [InlineData("SET_OWNER with a descriptor")]
    [InlineData("SET_VRING_CALL of a queue that does not exist")]
    [InlineData("SET_VRING_KICK with a socket")]
    [InlineData("SET_VRING_ERR saying no descriptor, with one")]
    [InlineData("SET_MEM_TABLE with one descriptor too many")]
    [InlineData("SET_MEM_TABLE whose second region is a socket")]
    [InlineData("message cut short, then the guest hangs up")]
    public void DescriptorNotTaken_IsClosed(string attack)
    {
        using var server = new VhostUserRpmsgServer("@vrpmsg-vhost4-fd-" + Guid.NewGuid().ToString("N"));
        using var guest = new VhostUserTestFrontEnd(server);
        using var probe = new Probe();
        int fd = probe.Sent.Value;
        switch (attack)
        {
            case "SET_OWNER with a descriptor":
                guest.Send(VhostUserRequest.SetOwner, default, V, fd);
                break;
            case "SET_VRING_CALL of a queue that does not exist":
                guest.Send(VhostUserRequest.SetVringCall, U64(5), V, fd);
                break;
            case "SET_VRING_KICK with a socket":
                guest.Send(VhostUserRequest.SetVringKick, U64(0), V, fd);
                break;
            case "SET_VRING_ERR saying no descriptor, with one":
                guest.Send(VhostUserRequest.SetVringErr, U64(0x100), V, fd);
                break;
            case "SET_MEM_TABLE with one descriptor too many":
                guest.CreateGuest();
                guest.Send(VhostUserRequest.SetMemTable, Table((GuestBase, (ulong)MemorySize, GuestBase, 0)), V, guest.Memory!.Descriptor!.Value, fd);
                break;
            case "SET_MEM_TABLE whose second region is a socket":
                guest.CreateGuest();
                guest.Send(VhostUserRequest.SetMemTable, Table((GuestBase, (ulong)MemorySize, GuestBase, 0), (GuestBase + 0x1000_0000, 0x1000, GuestBase + 0x1000_0000, 0)),
                    V, guest.Memory!.Descriptor!.Value, fd);
                break;
            default:
                guest.SendRaw((uint)VhostUserRequest.SetFeatures, V, 8, new byte[3], fd);
                guest.CloseConnection();
                break;
        }
        probe.Sent.Dispose();
        guest.Outcome();
        Assert.True(probe.AllCopiesClosed(VhostUserEchoServerRig.Wait), $"{attack}: the back-end still holds the descriptor after the connection ended");
    }

    [Fact]
    public void SlaveRequestDescriptorReplaced_TheOldOneIsClosedAtOnce()
    {
        using var server = new VhostUserRpmsgServer("@vrpmsg-vhost4-fd-" + Guid.NewGuid().ToString("N"));
        using var guest = new VhostUserTestFrontEnd(server);
        using var first = new Probe();
        using var second = new Probe();
        guest.Send(VhostUserRequest.SetSlaveReqFd, default, V, first.Sent.Value);
        first.Sent.Dispose();
        guest.Send(VhostUserRequest.GetQueueNum);
        Assert.Equal(2UL, guest.ReadU64Reply(VhostUserRequest.GetQueueNum)); // the first was handled
        Assert.False(first.AllCopiesClosed(TimeSpan.FromMilliseconds(100)), "the back-end closed the descriptor it was to keep");
        guest.Send(VhostUserRequest.SetSlaveReqFd, default, V, second.Sent.Value);
        second.Sent.Dispose();
        guest.Send(VhostUserRequest.GetQueueNum);
        Assert.Equal(2UL, guest.ReadU64Reply(VhostUserRequest.GetQueueNum));
        Assert.True(first.AllCopiesClosed(VhostUserEchoServerRig.Wait), "the replaced back-end request descriptor was leaked");
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
        Assert.True(second.AllCopiesClosed(VhostUserEchoServerRig.Wait), "the back-end request descriptor outlived the connection");
    }
}
