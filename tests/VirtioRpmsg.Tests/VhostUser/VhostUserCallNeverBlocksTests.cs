using VirtioRpmsg.Interop;
using VirtioRpmsg.Platform;
using VirtioRpmsg.VhostUser;

namespace VirtioRpmsg.Tests.VhostUser;

/// <summary>
/// Seed 001: a notify never sleeps. The back-end makes each call descriptor non-blocking when it arrives, but the
/// front-end shares that open file (it passed it over SCM_RIGHTS and may keep its copy), so it can put it back in
/// blocking mode at any time and stop reading. virtio_uml's call descriptor is a socketpair end; QEMU's an eventfd.
/// A ring into a full call descriptor must then report "not delivered", not block the sender, the dispatcher, and
/// with them the server's Stop, for as long as the guest does not read.
/// </summary>
public sealed class VhostUserCallNeverBlocksTests
{
    private static readonly TimeSpan RingLimit = TimeSpan.FromSeconds(5);

    [Fact]
    public void Ring_SocketCallFullAndSwitchedToBlockingByTheFrontEnd_ReturnsWithoutBlocking()
    {
        NativeCallException.ThrowIfError(Native.SocketPair(Native.SockStream, out int ours, out int theirs), "socketpair", "test");
        using var call = new FileDescriptor(ours);
        using var guestEnd = new FileDescriptor(theirs);
        // As the back-end took it (TakeNonBlocking); then the guest stops reading until the buffer is full.
        Assert.Equal(0, Native.SetNonBlocking(call.Value));
        var chunk = new byte[4096];
        while (Native.Write(call.Value, chunk) > 0)
        {
        }
        RingMustNotBlock(call, () => Drain(guestEnd, forEventFd: false));
    }

    [Fact]
    public void Ring_EventFdCallSaturatedAndSwitchedToBlockingByTheFrontEnd_ReturnsWithoutBlocking()
    {
        NativeCallException.ThrowIfError(Native.EventFd(out int fd), "eventfd", "test");
        using var call = new FileDescriptor(fd);
        NativeCallException.ThrowIfError(Native.Dup(fd, out int copy), "dup", "test");
        using var guestCopy = new FileDescriptor(copy);
        // The guest holds the same counter: it can add up to 2^64 - 2 itself, and never read it.
        Assert.Equal(sizeof(ulong), Native.Write(guestCopy.Value, BitConverter.GetBytes(ulong.MaxValue - 1)));
        RingMustNotBlock(call, () => Drain(guestCopy, forEventFd: true));
    }

    // The front-end switches the shared file back to blocking mode, then the back-end rings.
    private static void RingMustNotBlock(FileDescriptor call, Action unblock)
    {
        Assert.Equal(0, Native.SetBlocking(call.Value));
        NativeCallException.ThrowIfError(Native.EventFd(out int k0), "eventfd", "test");
        NativeCallException.ThrowIfError(Native.EventFd(out int k1), "eventfd", "test");
        using var kick0 = new FileDescriptor(k0);
        using var kick1 = new FileDescriptor(k1);
        using var doorbell = new VhostUserDoorbell([kick0, kick1], [call, call], "call-never-blocks");
        var ring = Task.Factory.StartNew(doorbell.Ring, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        bool returned = ring.Wait(RingLimit);
        if (!returned)
        {
            unblock(); // let the blocked write finish, so the thread does not outlive the test
            ring.Wait(RingLimit);
        }
        Assert.True(returned, $"VhostUserDoorbell.Ring blocked for {RingLimit.TotalSeconds} s on a full call descriptor the front-end put in blocking mode");
        Assert.False(ring.Result, "nothing could be delivered: the ring must say so");
    }

    private static void Drain(FileDescriptor fd, bool forEventFd)
    {
        Assert.Equal(0, Native.SetNonBlocking(fd.Value));
        var chunk = new byte[forEventFd ? sizeof(ulong) : 4096];
        while (Native.Read(fd.Value, chunk) > 0)
        {
        }
    }
}
