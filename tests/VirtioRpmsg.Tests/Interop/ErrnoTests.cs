using VirtioRpmsg.Interop;

namespace VirtioRpmsg.Tests.Interop;

/// <summary>
/// Errors from the shim name the errno in words. A UIO device without interrupt control fails its interrupt enable
/// with ENOSYS, and an eventfd write with RWF_NOWAIT with EOPNOTSUPP: both read as a bare number before.
/// </summary>
public sealed class ErrnoTests
{
    [Theory]
    [InlineData(38, "ENOSYS")]
    [InlineData(95, "EOPNOTSUPP")]
    [InlineData(24, "EMFILE")]
    public void Describe_NamesTheErrno(int errno, string name)
    {
        Assert.StartsWith(name + " (", Errno.Describe(errno), StringComparison.Ordinal);
        Assert.Contains(name, new NativeCallException("write", "/dev/uio0", errno).Message, StringComparison.Ordinal);
    }
}
