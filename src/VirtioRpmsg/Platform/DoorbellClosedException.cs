namespace VirtioRpmsg.Platform;

/// <summary>
/// The other end of a doorbell has gone away (its socket closed, the UIO device vanished): no ring
/// can ever arrive, so waiting would only time out. Recovery is up to the caller.
/// </summary>
public sealed class DoorbellClosedException : IOException
{
    /// <summary>Creates the exception for <paramref name="doorbell"/>; <paramref name="detail"/> says how it closed.</summary>
    public DoorbellClosedException(string doorbell, string detail)
        : base($"Doorbell '{doorbell}': {detail}")
    {
        Doorbell = doorbell;
    }

    /// <summary>The doorbell's name (socket path, device path).</summary>
    public string Doorbell { get; }
}
