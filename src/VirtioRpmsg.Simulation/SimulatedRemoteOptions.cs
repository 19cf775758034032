using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Simulation;

/// <summary>Settings of a <see cref="SimulatedRemote"/>.</summary>
public sealed record SimulatedRemoteOptions
{
    /// <summary>Services announced at link-up.</summary>
    public SimulatedServices Services { get; init; } = SimulatedServices.Echo;

    /// <summary>
    /// Names the echo service is announced under (with <see cref="SimulatedServices.Echo"/>); default
    /// <see cref="SimulatedRemote.EchoServiceName"/>. OpenAMP's ping host, for one, binds only "rpmsg-openamp-demo-channel".
    /// </summary>
    public IReadOnlyList<string> EchoNames { get; init; } = [SimulatedRemote.EchoServiceName];

    /// <summary>
    /// True: once the host has sent a name-service destroy for every name in <see cref="EchoNames"/>, the host is
    /// done with this remote, which stops and ends <see cref="SimulatedRemote.Completion"/> (as OpenAMP's echo app).
    /// </summary>
    public bool ExitWhenServicesDestroyed { get; init; }

    /// <summary>How the remote's dispatcher waits for the host.</summary>
    public RpmsgWaitStrategy WaitStrategy { get; init; } = RpmsgWaitStrategy.Interrupt;

    /// <summary>Timeout of the remote's blocking sends (echo replies wait this long for a host buffer).</summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The connection the host passed the doorbell over, kept open by the host for its lifetime. When it
    /// closes (the host exited, or crashed), the remote stops and <see cref="SimulatedRemote.Completion"/> ends.
    /// The remote takes ownership. Null: nothing is watched.
    /// </summary>
    public DescriptorPassing? HostConnection { get; init; }

    /// <summary>Address of the command endpoint; <see cref="RpmsgAddress.Any"/>: dynamic. A re-attach keeps the addresses of the previous transport.</summary>
    public uint CommandAddress { get; init; } = RpmsgAddress.Any;

    /// <summary>Address of the echo service; <see cref="RpmsgAddress.Any"/>: dynamic.</summary>
    public uint EchoAddress { get; init; } = RpmsgAddress.Any;

    /// <summary>Address of the sink service; <see cref="RpmsgAddress.Any"/>: dynamic.</summary>
    public uint SinkAddress { get; init; } = RpmsgAddress.Any;

    /// <summary>Log sink of the remote's device and services; nothing by default.</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;
}
