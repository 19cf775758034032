using VirtioRpmsg.Interop;

namespace VirtioRpmsg.Platform;

/// <summary>
/// How eventfds are read without blocking whatever their mode: <c>preadv2(RWF_NOWAIT)</c> where the kernel has it for
/// eventfd (Linux 5.12 and later; not under every emulator), probed once per process. An eventfd's open file is shared
/// with whoever holds it (a peer process, a vhost-user front-end), and any of them may switch it between blocking and
/// non-blocking mode at any time, so a read that must not block cannot rely on the mode.
/// </summary>
internal static unsafe class EventFdReads
{
    /// <summary>True when <see cref="ReadNoWait"/> never blocks, even on a blocking eventfd.</summary>
    internal static bool NoWaitSupported { get; } = Probe();

    /// <summary>Reads the counter if it is non-zero: bytes read, or -errno (-EAGAIN: zero). Blocks only where <see cref="NoWaitSupported"/> is false and the file is in blocking mode.</summary>
    internal static int ReadNoWait(int fd, ulong* count) =>
        NoWaitSupported ? Native.ReadNoWait(fd, count, sizeof(ulong)) : Native.Read(fd, count, sizeof(ulong));

    /// <summary>Whether <paramref name="fd"/> is an eventfd (a received doorbell's descriptors are checked before use).</summary>
    internal static bool IsEventFd(FileDescriptor fd)
    {
        try
        {
            return new FileInfo($"/proc/self/fd/{fd.Value}").LinkTarget == "anon_inode:[eventfd]";
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static bool Probe()
    {
        if (Native.EventFd(out int fd) != 0)
            return false;
        using var probe = new FileDescriptor(fd);
        ulong count;
        return Native.SetBlocking(fd) == 0 && Native.ReadNoWait(fd, &count, sizeof(ulong)) == -Errno.EAGAIN;
    }
}
