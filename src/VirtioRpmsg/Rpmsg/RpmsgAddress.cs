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
}
