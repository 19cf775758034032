using System.Runtime.InteropServices;

namespace VirtioRpmsg.Interop;

/// <summary>Doorbell entry points (native/vr_doorbell.c): eventfd, poll, Unix sockets, SCM_RIGHTS.</summary>
internal static unsafe partial class Native
{
    internal const int SockStream = 0;
    internal const int SockSeqPacket = 1;

    internal const int ReadyFd = 1;
    internal const int ReadyWake = 2;
    internal const int ReadyInvalid = 4;
    /// <summary>The descriptor hung up, or (polled for input) its peer will send nothing more: POLLHUP, POLLRDHUP.</summary>
    internal const int ReadyHangUp = 8;

    /// <summary>Most descriptors one descriptor-passing message may carry (VR_MAX_FDS).</summary>
    internal const int MaxPassedDescriptors = 8;

    [LibraryImport(Library, EntryPoint = "vr_eventfd")]
    internal static partial int EventFd(out int fd);

    [LibraryImport(Library, EntryPoint = "vr_read")]
    internal static partial int Read(int fd, void* buffer, int length);

    [LibraryImport(Library, EntryPoint = "vr_write")]
    internal static partial int Write(int fd, void* buffer, int length);

    [LibraryImport(Library, EntryPoint = "vr_send")]
    internal static partial int Send(int fd, void* buffer, int length);

    [LibraryImport(Library, EntryPoint = "vr_set_nonblocking")]
    internal static partial int SetNonBlocking(int fd);

    [LibraryImport(Library, EntryPoint = "vr_set_blocking")]
    internal static partial int SetBlocking(int fd);

    /// <summary>read() that never blocks on a blocking descriptor (preadv2 RWF_NOWAIT); -EOPNOTSUPP on kernels without it.</summary>
    [LibraryImport(Library, EntryPoint = "vr_read_nowait")]
    internal static partial int ReadNoWait(int fd, void* buffer, int length);

    /// <summary>write() that never blocks on a blocking descriptor (pwritev2 RWF_NOWAIT); -EOPNOTSUPP where the file (an eventfd) or kernel lacks it.</summary>
    [LibraryImport(Library, EntryPoint = "vr_write_nowait")]
    internal static partial int WriteNoWait(int fd, void* buffer, int length);

    /// <summary>write() only when poll() finds room, -EAGAIN otherwise: <see cref="WriteNoWait"/>'s fallback.</summary>
    [LibraryImport(Library, EntryPoint = "vr_write_if_room")]
    internal static partial int WriteIfRoom(int fd, void* buffer, int length);

    [LibraryImport(Library, EntryPoint = "vr_dup")]
    internal static partial int Dup(int fd, out int duplicate);

    [LibraryImport(Library, EntryPoint = "vr_poll2")]
    internal static partial int Poll2(int fd, int wantWrite, int wakeFd, int timeoutMilliseconds, out int ready);

    /// <summary>Most descriptors one <see cref="PollMany"/> call may watch (VR_MAX_POLL).</summary>
    internal const int MaxPolled = 8;

    [LibraryImport(Library, EntryPoint = "vr_poll_many")]
    internal static partial int PollMany(int* fds, int count, int timeoutMilliseconds, out int ready, out int invalid);

    [LibraryImport(Library, EntryPoint = "vr_unix_listen", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int UnixListen(string name, int isAbstract, int type, out int fd);

    [LibraryImport(Library, EntryPoint = "vr_unix_connect", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int UnixConnect(string name, int isAbstract, int type, out int fd);

    [LibraryImport(Library, EntryPoint = "vr_unix_accept")]
    internal static partial int UnixAccept(int listenFd, out int fd);

    [LibraryImport(Library, EntryPoint = "vr_socketpair")]
    internal static partial int SocketPair(int type, int* fds);

    [LibraryImport(Library, EntryPoint = "vr_is_socket", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int IsSocket(string path);

    [LibraryImport(Library, EntryPoint = "vr_send_fds")]
    internal static partial int SendFds(int socket, void* data, int length, int* fds, int count);

    [LibraryImport(Library, EntryPoint = "vr_recv_fds")]
    internal static partial int RecvFds(int socket, void* data, int length, int* fds, int maxFds, out int count);

    // ---- safe wrappers (setup paths and tests; hot paths use the pointer forms) ------------

    internal static int Read(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
            return Read(fd, p, buffer.Length);
    }

    internal static int Write(int fd, ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer)
            return Write(fd, p, buffer.Length);
    }

    internal static int SendFds(int socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> fds)
    {
        fixed (byte* p = data)
        fixed (int* f = fds)
            return SendFds(socket, p, data.Length, fds.Length == 0 ? null : f, fds.Length);
    }

    internal static int SocketPair(int type, out int first, out int second)
    {
        int* fds = stackalloc int[2];
        int r = SocketPair(type, fds);
        first = r == 0 ? fds[0] : -1;
        second = r == 0 ? fds[1] : -1;
        return r;
    }
}
