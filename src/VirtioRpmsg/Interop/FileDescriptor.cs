using System.Runtime.InteropServices;

namespace VirtioRpmsg.Interop;

/// <summary>An owned Linux file descriptor, closed exactly once.</summary>
internal sealed class FileDescriptor : SafeHandle
{
    internal FileDescriptor(int fd) : base(new IntPtr(-1), ownsHandle: true) => SetHandle(new IntPtr(fd));

    public override bool IsInvalid => handle.ToInt64() < 0;

    /// <summary>The raw descriptor; only valid while this handle is open.</summary>
    internal int Value => (int)handle.ToInt64();

    protected override bool ReleaseHandle() => Native.Close((int)handle.ToInt64()) == 0;

    /// <summary>Opens <paramref name="path"/>; throws <see cref="NativeCallException"/> naming the path.</summary>
    internal static FileDescriptor Open(string path, int mode)
    {
        NativeCallException.ThrowIfError(Native.Open(path, mode, out int fd), "open", path);
        return new FileDescriptor(fd);
    }

    /// <summary>
    /// Takes a reference so that the number stays this descriptor's during a native call (a concurrent Dispose closes
    /// it only after <see cref="SafeHandle.DangerousRelease"/>, so no other file can get the number meanwhile); false
    /// once closed.
    /// </summary>
    internal bool TryAddRef()
    {
        bool added = false;
        try
        {
            DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            // Closed by a concurrent Dispose: the caller reports it its own way.
        }
        return added;
    }

    internal long GetSize(string subject)
    {
        NativeCallException.ThrowIfError(Native.FstatSize(Value, out long size), "fstat", subject);
        return size;
    }

    /// <summary>The file's preferred block size (st_blksize): the huge page size on hugetlbfs.</summary>
    internal long GetBlockSize(string subject)
    {
        NativeCallException.ThrowIfError(Native.FstatBlockSize(Value, out long block), "fstat", subject);
        return block;
    }
}
