namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// Handles one service name, like a Linux rpmsg driver: <see cref="Probe"/> when the peer announces
/// the service (a channel is created), <see cref="Receive"/> for each message on the channel,
/// <see cref="Remove"/> when the channel goes away. Handlers run on the dispatcher; exceptions are
/// caught, logged and counted (a throwing Probe removes the channel again).
/// </summary>
public sealed class RpmsgServiceDriver
{
    /// <summary>A driver for channels announced as <paramref name="serviceName"/> (exact match, at most 31 bytes).</summary>
    public RpmsgServiceDriver(string serviceName)
    {
        NameServiceMessage.ValidateName(serviceName);
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
