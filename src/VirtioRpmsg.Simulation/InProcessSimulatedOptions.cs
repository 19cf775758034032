using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Simulation;

/// <summary>Behaviour of an <see cref="InProcessSimulatedControl"/>'s simulated remote.</summary>
public sealed record InProcessSimulatedOptions
{
    /// <summary>Services the remote announces; each echoes every message back to its sender.</summary>
    public IReadOnlyList<string> Services { get; init; } = [SimulatedRemote.EchoServiceName];

    /// <summary>After a crash, reboot at once (a platform controller restarting the core), ready for attach-recovery.</summary>
    public bool RebootAfterCrash { get; init; }

    /// <summary>On a crash, set NEEDS_RESET in the vdev status byte before vanishing (a remote that reports its own crash).</summary>
    public bool ReportNeedsResetOnCrash { get; init; } = true;

    /// <summary>Take the resource table the host loaded with the firmware instead of writing one.</summary>
    public bool UseLoadedResourceTable { get; init; }

    /// <summary>Wait strategy of the remote's device.</summary>
    public RpmsgWaitStrategy WaitStrategy { get; init; } = RpmsgWaitStrategy.Interrupt;

    /// <summary>Send timeout of the remote's echo replies.</summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(5);
}
