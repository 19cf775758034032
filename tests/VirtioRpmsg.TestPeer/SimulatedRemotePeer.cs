using VirtioRpmsg.Lifecycle;

namespace VirtioRpmsg.TestPeer;

/// <summary>
/// Mode "simulated-remote": the library's <see cref="SimulatedRemoteChild"/> as the child of a
/// <see cref="SimulatedRemoteProcess"/> started with a custom StartInfoFactory (args after the mode are
/// the ones the host passes). It prints READY itself and exits when stdin closes.
/// </summary>
public static class SimulatedRemotePeer
{
    public static int Run(string[] args) => SimulatedRemoteChild.Run(args[1..]);
}
