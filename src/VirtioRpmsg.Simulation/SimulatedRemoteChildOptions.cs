using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Simulation;

/// <summary>Settings of <see cref="SimulatedRemoteChild.Run(SimulatedRemoteChildOptions, TextReader?, TextWriter?, CancellationToken)"/> (the <c>remote</c> arguments, parsed).</summary>
public sealed record SimulatedRemoteChildOptions
{
    /// <summary><c>--shm PATH</c>: the shared-memory file of the simulated setup (<see cref="SimulatedPlatform.Description"/>).</summary>
    public string SharedMemoryPath { get; init; } = "/dev/shm/vrpmsg-remote.shm";

    /// <summary>
    /// <c>--passing NAME</c>: abstract socket of a host that created the file and passes the doorbells (set by
    /// <see cref="SimulatedRemoteProcess"/>). Null: the remote creates the file (deleting it on exit if it did)
    /// and waits, without a time limit, for a host on the description's socket.
    /// </summary>
    public string? Passing { get; init; }

    /// <summary><c>--services echo,sink|none</c>: services to announce.</summary>
    public SimulatedServices Services { get; init; } = SimulatedServices.Echo;

    /// <summary><c>--echo NAME</c> (repeatable): names the echo service is announced under; default "rpmsg-echo".</summary>
    public IReadOnlyList<string> EchoNames { get; init; } = [SimulatedRemote.EchoServiceName];

    /// <summary><c>--wait interrupt|poll|hybrid</c>: wait strategy of the remote's dispatcher.</summary>
    public RpmsgWaitStrategy WaitStrategy { get; init; } = RpmsgWaitStrategy.Interrupt;

    /// <summary>
    /// True (default): read <see cref="SimulatedRemoteCommands"/> from the input; its end or "quit" ends the remote,
    /// and the host can detach and re-attach. False (<c>--no-stdin</c>): the host connection is watched instead.
    /// </summary>
    public bool ReadCommands { get; init; } = true;

    /// <summary><c>--platform FILE</c>: a platform description to use (in the remote role) instead of the simulated one.</summary>
    public string? PlatformFile { get; init; }

    /// <summary>How long to wait for the host's socket (with <see cref="Passing"/>).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Log sink of the remote; nothing by default.</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;

    /// <summary>Test hook: raised just before the run claims the description's shared-memory files.</summary>
    internal Action? Claiming { get; init; }
}
