using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Rpmsg;

/// <summary>Well-known rpmsg addresses (fixed by the protocol; identical in Linux and OpenAMP).</summary>
public static class RpmsgAddress
{
    /// <summary>"Any address": ask for a dynamic address, or a destination not known yet.</summary>
    public const uint Any = 0xFFFFFFFF;

    /// <summary>The name-service endpoint.</summary>
    public const uint NameService = 53;

    /// <summary>Addresses below this are reserved for fixed services; dynamic allocation starts here.</summary>
    public const uint FirstDynamic = 1024;

    /// <summary>
    /// Refuses <see cref="Any"/> as either address of a send, as Linux rpmsg_send_offchannel_raw does (-EINVAL): the
    /// peer would drop the message while the caller was told it went out. One branch, checked once per send (not per
    /// re-try).
    /// </summary>
    internal static void CheckSendable(uint source, uint destination)
    {
        if ((source == Any) | (destination == Any))
            ThrowAny(source == Any ? nameof(source) : nameof(destination));
    }

    // Out of line: the wording would otherwise be built in every send's frame.
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void ThrowAny(string which) =>
        throw new ArgumentOutOfRangeException(which, Any, $"The {which} address 0xFFFFFFFF is RpmsgAddress.Any (\"no address yet\"), which no message may carry.");
}
