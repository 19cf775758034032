using VirtioRpmsg.Tests.Infrastructure;

namespace VirtioRpmsg.Tests.Simulation;

/// <summary>
/// The commands tests start simulated remotes with (<c>SimulatedRemoteProcessOptions.RemoteCommand</c>): the
/// test process itself cannot host the entry point (it is the test host), so the child is the rpmsg CLI or the
/// test peer, both copied next to the tests by their project references.
/// </summary>
internal static class RemoteCommands
{
    /// <summary><c>rpmsg remote</c>: the CLI, as the demo and every rpmsg subcommand run it.</summary>
    public static IReadOnlyList<string> Cli { get; } = ["dotnet", Path.Combine(AppContext.BaseDirectory, "rpmsg.dll")];

    /// <summary>The test peer, which hosts the entry point in one line (as any application can).</summary>
    public static IReadOnlyList<string> Peer { get; } = ["dotnet", PeerProcess.PeerAssembly];
}
