using System.Runtime.InteropServices;

namespace VirtioRpmsg.Tests.Platform;

/// <summary>
/// sendmsg() straight from libc, for what the shim refuses to send but a hostile or foreign peer can: an empty
/// message, or any number of descriptors (SCM_RIGHTS) with any data. Blocking send; Linux x86-64/arm64 layouts.
/// </summary>
internal static class RawSendMsg
{
    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public IntPtr Name;
        public uint NameLength;
        public IntPtr Iov;
        public nuint IovLength;
        public IntPtr Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec
    {
        public IntPtr Base;
        public nuint Length;
    }

    [DllImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static extern nint SendMsg(int socket, ref MsgHdr message, int flags);

    private const int SolSocket = 1, ScmRights = 1, CmsgHeader = 16; // struct cmsghdr: size_t len, int level, int type

    /// <summary>Sends <paramref name="data"/> with <paramref name="fds"/> as one SCM_RIGHTS message; the byte count, or -errno.</summary>
    public static int Send(int socket, byte[] data, params int[] fds)
    {
        var pinned = GCHandle.Alloc(data, GCHandleType.Pinned);
        int controlLength = fds.Length == 0 ? 0 : (CmsgHeader + 4 * fds.Length + 7) & ~7;
        IntPtr control = Marshal.AllocHGlobal(Math.Max(controlLength, 8));
        IntPtr iov = Marshal.AllocHGlobal(Marshal.SizeOf<IoVec>());
        try
        {
            Marshal.StructureToPtr(new IoVec { Base = pinned.AddrOfPinnedObject(), Length = (nuint)data.Length }, iov, false);
            var message = new MsgHdr { Iov = iov, IovLength = 1 };
            if (fds.Length > 0)
            {
                for (int i = 0; i < controlLength; i++)
                    Marshal.WriteByte(control, i, 0);
                Marshal.WriteInt64(control, CmsgHeader + 4 * fds.Length);
                Marshal.WriteInt32(control, 8, SolSocket);
                Marshal.WriteInt32(control, 12, ScmRights);
                for (int i = 0; i < fds.Length; i++)
                    Marshal.WriteInt32(control, CmsgHeader + 4 * i, fds[i]);
                message.Control = control;
                message.ControlLength = (nuint)controlLength;
            }
            nint sent = SendMsg(socket, ref message, 0);
            return sent < 0 ? -Marshal.GetLastPInvokeError() : (int)sent;
        }
        finally
        {
            pinned.Free();
            Marshal.FreeHGlobal(control);
            Marshal.FreeHGlobal(iov);
        }
    }
}
