namespace VirtioRpmsg.Interop;

/// <summary>Linux errno values used by the shim, with readable names for error messages.</summary>
internal static class Errno
{
    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int ESRCH = 3;
    internal const int EINTR = 4;
    internal const int EIO = 5;
    internal const int ENXIO = 6;
    internal const int EBADF = 9;
    internal const int EAGAIN = 11;
    internal const int ENOMEM = 12;
    internal const int EACCES = 13;
    internal const int EFAULT = 14;
    internal const int EBUSY = 16;
    internal const int EEXIST = 17;
    internal const int ENODEV = 19;
    internal const int ENOTDIR = 20;
    internal const int EMFILE = 24;
    internal const int EISDIR = 21;
    internal const int EINVAL = 22;
    internal const int ENOSPC = 28;
    internal const int ENOSYS = 38;
    internal const int EPIPE = 32;
    internal const int ETIMEDOUT = 110;
    internal const int ECONNREFUSED = 111;
    internal const int ECONNRESET = 104;
    internal const int EOVERFLOW = 75;
    internal const int ENAMETOOLONG = 36;
    internal const int ENOTSOCK = 88;
    internal const int EMSGSIZE = 90;
    internal const int EOPNOTSUPP = 95;
    internal const int EADDRINUSE = 98;
    internal const int ENOTCONN = 107;
    internal const int ECONNABORTED = 103;

    internal static string Describe(int errno) => errno switch
    {
        EPERM => "EPERM (operation not permitted)",
        ENOENT => "ENOENT (no such file or directory)",
        ESRCH => "ESRCH (no such process)",
        EINTR => "EINTR (interrupted)",
        EIO => "EIO (input/output error)",
        ENXIO => "ENXIO (no such device or address)",
        EBADF => "EBADF (bad file descriptor)",
        EAGAIN => "EAGAIN (resource temporarily unavailable)",
        ENOMEM => "ENOMEM (out of memory)",
        EACCES => "EACCES (permission denied)",
        EFAULT => "EFAULT (bad address)",
        EBUSY => "EBUSY (device or resource busy)",
        EEXIST => "EEXIST (file exists)",
        ENODEV => "ENODEV (no such device)",
        ENOTDIR => "ENOTDIR (not a directory)",
        EMFILE => "EMFILE (too many open files)",
        EISDIR => "EISDIR (is a directory)",
        EINVAL => "EINVAL (invalid argument)",
        ENOSPC => "ENOSPC (no space left on device)",
        ENOSYS => "ENOSYS (function not implemented)",
        EPIPE => "EPIPE (broken pipe)",
        ECONNRESET => "ECONNRESET (connection reset by peer)",
        EOVERFLOW => "EOVERFLOW (value too large)",
        ETIMEDOUT => "ETIMEDOUT (timed out)",
        ECONNREFUSED => "ECONNREFUSED (connection refused)",
        ENAMETOOLONG => "ENAMETOOLONG (name too long)",
        ENOTSOCK => "ENOTSOCK (not a socket)",
        EMSGSIZE => "EMSGSIZE (message too long)",
        EOPNOTSUPP => "EOPNOTSUPP (operation not supported)",
        EADDRINUSE => "EADDRINUSE (address in use)",
        ENOTCONN => "ENOTCONN (not connected)",
        ECONNABORTED => "ECONNABORTED (connection aborted)",
        _ => $"errno {errno}",
    };
}
