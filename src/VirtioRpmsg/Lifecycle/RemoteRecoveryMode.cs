namespace VirtioRpmsg.Lifecycle;

/// <summary>How a crashed remote is brought back (Linux remoteproc's two mechanisms).</summary>
public enum RemoteRecoveryMode
{
    /// <summary>Stop the remote, load the firmware again, start it, set up a fresh vdev.</summary>
    Boot,
    /// <summary>The remote reboots by itself (a platform controller restarts it): full detach, then attach to its new resource table.</summary>
    Attach,
}
