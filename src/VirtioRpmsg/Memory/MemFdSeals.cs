using VirtioRpmsg.Interop;

namespace VirtioRpmsg.Memory;

/// <summary>
/// The memfd seal rule: a shared memfd must be sealed against shrinking before we map it. Any holder of the
/// fd can otherwise ftruncate it, and the next access to a page past the new end kills this process with
/// SIGBUS, which no lease or bounds check can stop. Our own memfds are sealed at creation
/// (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL); an fd received from a peer is refused without F_SEAL_SHRINK.
/// </summary>
internal static class MemFdSeals
{
    /// <summary>Throws <see cref="SharedMemorySealException"/> unless <paramref name="fd"/> carries F_SEAL_SHRINK.</summary>
    internal static void RequireShrinkSeal(FileDescriptor fd, string name)
    {
        int r = Native.GetSeals(fd.Value, out int seals);
        if (r == -Errno.EINVAL)
            throw new SharedMemorySealException(name, fd.Value, null,
                $"Shared memory '{name}': fd {fd.Value} does not support seals (not a memfd created with MFD_ALLOW_SEALING), so it cannot carry F_SEAL_SHRINK; a peer could shrink it under the mapping (SIGBUS), so it is refused.");
        NativeCallException.ThrowIfError(r, "fcntl(F_GET_SEALS)", name);
        if ((seals & Native.SealShrink) == 0)
            throw new SharedMemorySealException(name, fd.Value, seals,
                $"Shared memory '{name}': fd {fd.Value} has seals [{Describe(seals)}] but not F_SEAL_SHRINK; a peer could shrink it under the mapping (SIGBUS), so it is refused. Create it with MFD_ALLOW_SEALING and add F_SEAL_SHRINK.");
    }

    /// <summary>The seal names, e.g. "F_SEAL_GROW | F_SEAL_SEAL", or "none".</summary>
    internal static string Describe(int seals)
    {
        if (seals == 0)
            return "none";
        var names = new List<string>(5);
        if ((seals & Native.SealSeal) != 0) names.Add("F_SEAL_SEAL");
        if ((seals & Native.SealShrink) != 0) names.Add("F_SEAL_SHRINK");
        if ((seals & Native.SealGrow) != 0) names.Add("F_SEAL_GROW");
        if ((seals & Native.SealWrite) != 0) names.Add("F_SEAL_WRITE");
        if ((seals & Native.SealFutureWrite) != 0) names.Add("F_SEAL_FUTURE_WRITE");
        int other = seals & ~(Native.SealSeal | Native.SealShrink | Native.SealGrow | Native.SealWrite | Native.SealFutureWrite);
        if (other != 0) names.Add($"0x{other:X}");
        return string.Join(" | ", names);
    }
}

/// <summary>A shared-memory fd from a peer is not sealed against shrinking, so mapping it would let the peer crash us (SIGBUS).</summary>
public sealed class SharedMemorySealException : InvalidOperationException
{
    internal SharedMemorySealException(string regionName, int descriptor, int? seals, string message) : base(message)
    {
        RegionName = regionName;
        Descriptor = descriptor;
        Seals = seals;
    }

    /// <summary>The region the fd was to back.</summary>
    public string RegionName { get; }

    /// <summary>The fd number as received.</summary>
    public int Descriptor { get; }

    /// <summary>The F_SEAL_* bits found, or null when the fd does not support seals at all.</summary>
    public int? Seals { get; }
}
