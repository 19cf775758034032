using System.Globalization;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Harness;

/// <summary>
/// One host device in this process linked to one simulated remote in a child process (echo and sink
/// services), each side with a fixed wait strategy. Every thread of the child is pinned to the remote CPU.
/// </summary>
internal sealed class CrossProcessSession : IDisposable
{
    private static readonly TimeSpan s_linkTimeout = TimeSpan.FromSeconds(30);

    private readonly SimulatedRemoteProcess _process;

    private CrossProcessSession(SimulatedRemoteProcess process, RpmsgWaitStrategy hostWait, RpmsgWaitStrategy remoteWait, int? dispatcherCpu)
    {
        _process = process;
        HostWait = hostWait;
        RemoteWait = remoteWait;
        DispatcherCpu = dispatcherCpu;
    }

    public RpmsgWaitStrategy HostWait { get; }

    /// <summary>The CPU the host's dispatcher thread is pinned to from its start; null: unpinned (the echo client pins it on its first reply).</summary>
    public int? DispatcherCpu { get; }

    public RpmsgWaitStrategy RemoteWait { get; }

    public RpmsgDevice Host => _process.Host;

    public int RemoteProcessId => _process.ProcessId;

    public uint EchoAddress { get; private set; }

    public uint SinkAddress { get; private set; }

    /// <summary>True once the session ran its warm-up.</summary>
    public bool Warm { get; set; }

    /// <summary>Starts the child, pins it, starts the host and waits (bounded) for the link.</summary>
    /// <param name="dispatcherCpu">
    /// Where the host's dispatcher thread runs; null leaves it to the scheduler. The remote's CPU stands for a remote
    /// processor, which no host thread can run on: with the application's thread pinned to the host CPU and the
    /// dispatcher not, a hand-off from the dispatcher to a reader was at times a cross-core wake-up from the remote's CPU.
    /// </param>
    public static CrossProcessSession Start(RpmsgWaitStrategy hostWait, RpmsgWaitStrategy remoteWait, int? dispatcherCpu, int remoteCpu, IReadOnlyList<string>? remoteCommand, CancellationToken cancellationToken)
    {
        var process = SimulatedRemoteProcess.StartWithHost(new SimulatedRemoteProcessOptions
        {
            RemoteCommand = remoteCommand,
            Services = SimulatedServices.Echo | SimulatedServices.Sink,
            RemoteWaitStrategy = remoteWait,
            HostOptions = new RpmsgDeviceOptions { Name = "bench-host", WaitStrategy = hostWait, SendTimeout = s_linkTimeout, DispatcherCpu = dispatcherCpu },
            SharedMemoryPrefix = "vrpmsg-bench-",
        }, cancellationToken);
        var session = new CrossProcessSession(process, hostWait, remoteWait, dispatcherCpu);
        try
        {
            // Its dispatcher exists already (it said READY); threads it starts later inherit the pin.
            CpuAffinity.PinProcess(process.ProcessId, remoteCpu);
            session.EchoAddress = Endpoint(process, "echo");
            session.SinkAddress = Endpoint(process, "sink");
            process.Host.Start();
            if (!process.Host.WaitForLinkUp(s_linkTimeout, cancellationToken))
                throw new TimeoutException($"cross-process: the link to the remote (pid {process.ProcessId}) did not come up within {s_linkTimeout.TotalSeconds} s\n{process.Host.Dump()}");
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Messages the remote's sink has counted (asked over the child's command line).</summary>
    public long SinkMessages()
    {
        foreach (string field in _process.Command("stats").Split(' '))
        {
            if (field.StartsWith("sink=", StringComparison.Ordinal))
                return long.Parse(field.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture);
        }
        throw new InvalidDataException("cross-process: the remote's stats reply has no sink= field");
    }

    /// <summary>Both devices' state, for a timeout message.</summary>
    public string Diagnostics() => $"host: {Host.Dump()}\nremote (pid {RemoteProcessId}): {(_process.HasExited ? "exited, " + _process.StandardError : "running")}";

    private static uint Endpoint(SimulatedRemoteProcess process, string name) =>
        process.RemoteEndpoints.TryGetValue(name, out uint address)
            ? address
            : throw new InvalidOperationException($"cross-process: the simulated remote reported no '{name}' endpoint");

    public void Dispose() => _process.Dispose();
}
