using System.Runtime.Versioning;
using VirtioRpmsg.Lifecycle;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// The real attribute writer opens write-only, as <c>echo word &gt; attribute</c> does. Opened read-write, an attribute
/// that cannot be read is refused at open with EACCES: kernfs (sysfs) refuses read access to a write-only attribute
/// (mode 0200, or no show function) even to root, and the file system does to anyone else for a file without read
/// permission (e.g. a udev rule making <c>state</c> writable, not readable, for a service group).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class SysfsAttributeWriterTests
{
    private const int ENODEV = 19, EROFS = 30;

    [Fact]
    public void Write_AttributeThatCannotBeRead_Written()
    {
        // Root reads any regular file; kernfs still refuses reading a write-only attribute. bus drivers_probe (0200)
        // answers a device name that does not exist with ENODEV and does nothing else. Where /sys is mounted read-only
        // (a container) or absent, the write-only file below stands in (root could open it read-write anyway).
        const string writeOnly = "/sys/bus/platform/drivers_probe";
        if (Environment.IsPrivilegedProcess && File.Exists(writeOnly))
        {
            int r = SysfsAttributeWriter.Instance.Write(writeOnly, "vrpmsg-test-no-such-device\n");
            if (r != EROFS)
            {
                Assert.Equal(ENODEV, r);
                return;
            }
        }
        string dir = Path.Combine(Path.GetTempPath(), "vrpmsg-test-attr-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string file = Path.Combine(dir, "state");
            File.WriteAllText(file, "");
            File.SetUnixFileMode(file, UnixFileMode.UserWrite);

            Assert.Equal(0, SysfsAttributeWriter.Instance.Write(file, "start\n"));

            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            Assert.Equal("start\n", File.ReadAllText(file));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
