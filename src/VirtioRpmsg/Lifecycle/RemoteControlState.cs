namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// The remote's state as its control backend reports it (the strings of Linux's
/// <c>/sys/class/remoteproc/remoteprocN/state</c>, plus <see cref="Unknown"/>).
/// </summary>
public enum RemoteControlState
{
    /// <summary>The backend reported something this library does not know.</summary>
    Unknown,
    /// <summary>"offline": powered off.</summary>
    Offline,
    /// <summary>"suspended".</summary>
    Suspended,
    /// <summary>"running": booted by this side (or, for the simulated remote, alive).</summary>
    Running,
    /// <summary>"crashed": died, recovery pending.</summary>
    Crashed,
    /// <summary>"deleted".</summary>
    Deleted,
    /// <summary>"attached": running, booted by someone else, attached to.</summary>
    Attached,
    /// <summary>"detached": running without this side attached.</summary>
    Detached,
    /// <summary>"invalid".</summary>
    Invalid,
}
