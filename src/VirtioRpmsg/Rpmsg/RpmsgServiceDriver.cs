namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// Handles one service name, like a Linux rpmsg driver: <see cref="Probe"/> when the peer announces
/// the service (a channel is created), <see cref="Receive"/> for each message on the channel,
/// <see cref="Remove"/> when the channel goes away. Exceptions are caught, logged and counted (a throwing
/// Probe removes the channel again).
/// </summary>
/// <remarks>
/// <para>Where they run: <see cref="Probe"/> on the device's dispatcher for an announcement that arrives after the
/// registration, and on the thread calling RegisterDriver (<see cref="RpmsgDevice.RegisterDriver"/>,
/// <c>RemoteProcessor.RegisterDriver</c>) for the ones announced before it, which it probes before it returns, holding no
/// lock of the library's. <see cref="Receive"/> runs where the endpoint's callbacks do (the dispatcher, or the caller of
/// <see cref="RpmsgDevice.Poll"/>). <see cref="Remove"/> runs on the thread that removes the channel: the dispatcher for
/// the peer's DESTROY, the thread stopping the device, or the one disposing the channel's endpoint; never during the
/// Probe (a stop waits for it; a DESTROY or a dispose meanwhile leaves the removal to the probing thread, which runs it
/// once its Probe returned).</para>
/// <para>A channel counts as there for <c>RemoteProcessor.WaitForChannel</c> and <c>RpmsgLink.WaitForChannelAsync</c>
/// once its Probe returned (and the ChannelAdded handlers did); one whose Probe throws is never handed out.</para>
/// </remarks>
public sealed class RpmsgServiceDriver
{
    /// <summary>A driver for channels announced as <paramref name="serviceName"/> (exact match, at most 31 bytes).</summary>
    public RpmsgServiceDriver(string serviceName)
    {
        NameServiceMessage.ValidateName(serviceName, nameof(serviceName));
        ServiceName = serviceName;
    }

    /// <summary>The announced name this driver binds.</summary>
    public string ServiceName { get; }

    /// <summary>Called once per new channel.</summary>
    public Action<RpmsgChannel>? Probe { get; init; }

    /// <summary>
    /// Called once per removed channel. After the peer's DESTROY, what it sent before is still read from the channel's
    /// (queue) endpoint; disposing the endpoint drops the rest and gives its bytes back to the device's queue budget (which
    /// also takes them back, oldest withdrawn channel first, when a live endpoint needs the room).
    /// </summary>
    public Action<RpmsgChannel>? Remove { get; init; }

    /// <summary>Message handler of the channel's endpoint; null makes the endpoint a receive queue.</summary>
    public RpmsgReceiveHandler? Receive { get; init; }
}
