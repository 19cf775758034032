using VirtioRpmsg.Interop;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform;

/// <summary>
/// Plays a UIO device for tests: a fake sysfs tree (<c>{Root}/uio0/name</c>) and a SOCK_SEQPACKET
/// socketpair whose other end stands in for /dev/uio0. The test reads the 4-byte enable/acknowledge
/// words the doorbell writes and writes 4-byte interrupt counts.
/// </summary>
public sealed class FakeUioDevice : IDisposable
{
    public const string UioName = "vrpmsg-test-mailbox";

    private readonly FileDescriptor _deviceSide;
    private FileDescriptor? _doorbellSide;

    public FakeUioDevice()
    {
        Root = Path.Combine(Path.GetTempPath(), "vrpmsg-test-uio-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(Root, "uio0"));
        File.WriteAllText(Path.Combine(Root, "uio0", "name"), UioName + "\n");
        NativeCallException.ThrowIfError(Native.SocketPair(Native.SockSeqPacket, out int doorbellSide, out int deviceSide), "socketpair", "fake uio");
        _doorbellSide = new FileDescriptor(doorbellSide);
        _deviceSide = new FileDescriptor(deviceSide);
    }

    /// <summary>Root of the fake sysfs class tree (stands in for /sys/class/uio).</summary>
    public string Root { get; }

    /// <summary>Opens a doorbell on this fake device (once).</summary>
    public UioDoorbell Open(IMailbox? mailbox = null)
    {
        var fd = _doorbellSide ?? throw new InvalidOperationException("the fake device is already open");
        _doorbellSide = null;
        return UioDoorbell.OpenWithStandIn("uio0", mailbox, Root, fd, "fake /dev/uio0");
    }

    /// <summary>Raises an interrupt: the device reports its total count.</summary>
    public void Interrupt(uint totalCount) =>
        Assert.Equal(4, Native.Write(_deviceSide.Value, BitConverter.GetBytes(totalCount)));

    /// <summary>Takes every word the doorbell has written so far (enable / acknowledge words).</summary>
    public List<uint> TakeWrittenWords()
    {
        var words = new List<uint>();
        var word = new byte[sizeof(uint)];
        int r;
        while ((r = Native.Read(_deviceSide.Value, word)) == sizeof(uint))
            words.Add(BitConverter.ToUInt32(word));
        Assert.Equal(-Errno.EAGAIN, r);
        return words;
    }

    /// <summary>Unplugs the device: the doorbell's next read sees end-of-file.</summary>
    public void Unplug() => _deviceSide.Dispose();

    public void Dispose()
    {
        _doorbellSide?.Dispose();
        _deviceSide.Dispose();
        Directory.Delete(Root, recursive: true);
    }
}
