namespace VirtioRpmsg.Lifecycle;

// The doorbell rules: which fields each kind uses, and a uio mailbox's registers inside their region.
internal static partial class PlatformDescriptionValidator
{
    private static void ValidateDoorbell(PlatformDescription d)
    {
        var b = d.Doorbell ?? throw Error("doorbell", "null", "must be a doorbell object");
        Enum(b.Kind, "doorbell.kind");
        string kind = b.Kind switch
        {
            PlatformDoorbellKind.Eventfd => "eventfd",
            PlatformDoorbellKind.UnixSocket => "unixSocket",
            PlatformDoorbellKind.Uio => "uio",
            _ => "polling",
        };
        bool socket = b.Kind == PlatformDoorbellKind.UnixSocket, uio = b.Kind == PlatformDoorbellKind.Uio;
        OnlyFor(socket, b.Path, "doorbell.path", kind);
        OnlyFor(socket, b.Mode, "doorbell.mode", kind);
        OnlyFor(b.Kind == PlatformDoorbellKind.Eventfd, b.Socket, "doorbell.socket", kind);
        OnlyFor(uio, b.Device, "doorbell.device", kind);
        OnlyFor(uio, b.DeviceName, "doorbell.deviceName", kind);
        OnlyFor(uio, b.SysfsRoot, "doorbell.sysfsRoot", kind);
        OnlyFor(uio, b.Mailbox, "doorbell.mailbox", kind);
        NoNul(b.Device, "doorbell.device");
        NoNul(b.DeviceName, "doorbell.deviceName");
        NoNul(b.SysfsRoot, "doorbell.sysfsRoot");
        if (socket && string.IsNullOrEmpty(b.Path))
            throw Error("doorbell.path", Str(b.Path), "a unixSocket doorbell needs the socket path");
        if (socket)
            SocketName(b.Path!.StartsWith('@') ? b.Path[1..] : b.Path, "doorbell.path", b.Path);
        if (b.Socket is { Length: > 0 } passingName)
            SocketName(passingName, "doorbell.socket", passingName);
        if (b.Mode is { } mode)
            Enum(mode, "doorbell.mode");
        if (b.Socket is "")
            throw Error("doorbell.socket", Str(b.Socket), "must be a non-empty abstract socket name");
        if (uio)
        {
            ExactlyOne(b.Device, b.DeviceName, "doorbell");
            if (b.SysfsRoot is "")
                throw Error("doorbell.sysfsRoot", Str(b.SysfsRoot), "must be a non-empty path (default /sys/class/uio)");
            if (b.Mailbox is { } mailbox)
                ValidateMailbox(d, mailbox);
        }
    }

    private static void Register(ulong offset, string path, string region, ulong? regionSize)
    {
        if ((offset & 3) != 0)
            throw Error(path, Hex(offset), "a 32-bit register must be 4-byte aligned");
        if (regionSize is { } size && (size < 4 || offset > size - 4))
            throw Error(path, Hex(offset), $"the register is outside region '{region}' (0x{size:X} bytes)");
    }

    // What a Unix socket address can hold (sun_path), checked at load rather than at open.
    private static void SocketName(string name, string path, string value)
    {
        int bytes = System.Text.Encoding.UTF8.GetByteCount(name);
        if (bytes == 0 || bytes > Platform.UnixSockets.MaxNameBytes || name.Contains('\0'))
            throw Error(path, Str(value), $"is {bytes} bytes; a Unix socket name must be 1 to {Platform.UnixSockets.MaxNameBytes} bytes without NUL characters");
    }
}
