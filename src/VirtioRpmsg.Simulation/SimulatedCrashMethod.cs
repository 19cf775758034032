namespace VirtioRpmsg.Simulation;

/// <summary>How a <see cref="SimulatedRemoteProcess"/> crashes its child.</summary>
public enum SimulatedCrashMethod
{
    /// <summary>SIGKILL from the host: the remote vanishes, its memory untouched.</summary>
    Kill,

    /// <summary>The <c>crash</c> command: the remote sets NEEDS_RESET in its vdev status, then SIGKILLs itself.</summary>
    FaultCommand,
}
