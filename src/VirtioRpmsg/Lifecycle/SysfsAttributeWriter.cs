using System.Text;
using VirtioRpmsg.Interop;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Writes one sysfs attribute the way <c>echo word &gt; attribute</c> does: open, one write of the whole
/// text, close; the kernel's store function answers the write with its error code, which is returned
/// as is (0 or a positive errno) so the caller can say what it means for that attribute.
/// </summary>
internal interface ISysfsAttributeWriter
{
    /// <summary>0, or the errno the open or write failed with.</summary>
    int Write(string path, string text);
}

/// <summary>
/// The real writer: open(O_WRONLY | O_CLOEXEC) and one write(2) through the native shim. Write-only, as the shell opens
/// it: kernfs refuses read access to an attribute that cannot be read (mode 0200, or no show function) with EACCES, even
/// to root, and a file mode (a udev rule) may grant writing without reading.
/// </summary>
internal sealed unsafe class SysfsAttributeWriter : ISysfsAttributeWriter
{
    internal static readonly SysfsAttributeWriter Instance = new();

    public int Write(string path, string text)
    {
        int r = Native.Open(path, Native.OpenWrite, out int raw);
        if (r < 0)
            return -r;
        using var fd = new FileDescriptor(raw);
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        int written = Native.Write(fd.Value, bytes);
        if (written < 0)
            return -written;
        // sysfs takes a store in one write; a short write would leave the command cut.
        return written == bytes.Length ? 0 : Errno.EIO;
    }
}
