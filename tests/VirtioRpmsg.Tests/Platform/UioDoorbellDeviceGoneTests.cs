using System.Runtime.InteropServices;
using VirtioRpmsg.Interop;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform;

/// <summary>
/// A real UIO device that vanishes (uio_pdrv_genirq unbound, overlay removed) never reads end-of-file:
/// uio_unregister_device clears the device's info, after which poll reports ready and read and write
/// fail with EIO. That is the "UIO device vanished" of <see cref="DoorbellClosedException"/>, and must be
/// reported as such (a closed doorbell), not as a failed system call. /proc/self/mem stands in for the
/// device node: positioned on our own buffer its 4-byte writes succeed, positioned at address 0 its
/// reads fail with EIO, and poll always reports it readable, exactly as a removed UIO device does.
/// </summary>
public sealed class UioDoorbellDeviceGoneTests
{
    private const int SeekSet = 0;

    [DllImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static extern long LSeek(int fd, long offset, int whence);

    [Fact]
    public void Wait_DeviceRemoved_ReadFailsWithEio_IsDoorbellClosed()
    {
        using var sysfs = new FakeUioDevice();
        IntPtr scratch = Marshal.AllocHGlobal(16);
        try
        {
            NativeCallException.ThrowIfError(Native.Open("/proc/self/mem", Native.OpenReadWrite, out int raw), "open", "/proc/self/mem");
            // The enable word written at open lands in our scratch buffer.
            Assert.Equal((long)scratch, LSeek(raw, (long)scratch, SeekSet));
            using var doorbell = UioDoorbell.OpenWithStandIn("uio0", null, sysfs.Root, new FileDescriptor(raw), "removed /dev/uio0");
            Assert.Equal(1, Marshal.ReadInt32(scratch));

            // The device is removed: from now on every read is EIO.
            Assert.Equal(0, LSeek(raw, 0, SeekSet));

            var e = Assert.Throws<DoorbellClosedException>(() => doorbell.Wait(TimeSpan.FromSeconds(10)));
            Assert.Equal("removed /dev/uio0", e.Doorbell);
            Assert.Contains("EIO", e.Message, StringComparison.Ordinal);
            // A Drain (which does not throw for a closed doorbell) finds nothing, and never throws either.
            Assert.False(doorbell.Drain());
        }
        finally
        {
            Marshal.FreeHGlobal(scratch);
        }
    }
}
