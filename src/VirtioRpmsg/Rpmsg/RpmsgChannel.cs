namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// A named connection between a local endpoint and a remote address, created when the peer
/// announces a service (name-service CREATE) that a registered <see cref="RpmsgServiceDriver"/>
/// handles. Removed on the peer's DESTROY, or when the device stops.
/// </summary>
public sealed class RpmsgChannel
{
    internal RpmsgChannel(RpmsgDevice device, string name, uint remoteAddress, RpmsgEndpoint endpoint, RpmsgServiceDriver driver)
    {
        Device = device;
        Name = name;
        RemoteAddress = remoteAddress;
        Endpoint = endpoint;
        Driver = driver;
    }

    // Under the device's lock. The Probe runs on ProberThread (0 once Probe and ChannelAdded are done): a removal
    // meanwhile either waits for it (Stop) or is handed to it (RemoveHandedOver), so Remove never overlaps Probe.
    internal int ProberThread;
    internal bool ProbeFailed;
    internal bool RemoveHandedOver;
    // The hand-over came from the peer's DESTROY: the probing thread raises ServiceDestroyed after the removal.
    internal bool DestroyHandedOver;
    // Its Probe succeeded and ChannelAdded was raised, with no removal handed over meanwhile (set with ProberThread's
    // reset): what WaitForChannel hands out.
    internal volatile bool Ready;

    /// <summary>The device the channel is on.</summary>
    public RpmsgDevice Device { get; }

    /// <summary>Service name from the announcement.</summary>
    public string Name { get; }

    /// <summary>The peer's address for the service.</summary>
    public uint RemoteAddress { get; }

    /// <summary>Our endpoint for the channel: the driver's receive handler is its callback, or, with no handler, it is a receive queue.</summary>
    public RpmsgEndpoint Endpoint { get; }

    /// <summary>Local address of <see cref="Endpoint"/>.</summary>
    public uint LocalAddress => Endpoint.Address;

    /// <summary>The driver that probed this channel.</summary>
    public RpmsgServiceDriver Driver { get; }

    /// <summary>Sends on the channel (to <see cref="RemoteAddress"/>).</summary>
    public void Send(ReadOnlySpan<byte> payload, CancellationToken cancellationToken = default) => Endpoint.Send(payload, cancellationToken);

    /// <summary>
    /// Sends on the channel, waiting at most <paramref name="timeout"/> for a free buffer (<see cref="TimeoutException"/>
    /// then); as <see cref="RpmsgEndpoint.Send(ReadOnlySpan{byte}, TimeSpan, CancellationToken)"/>.
    /// </summary>
    public void Send(ReadOnlySpan<byte> payload, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Endpoint.Send(payload, timeout, cancellationToken);

    /// <summary>Sends on the channel if a buffer is free.</summary>
    public bool TrySend(ReadOnlySpan<byte> payload) => Endpoint.TrySend(payload);

    /// <summary>Sends on the channel asynchronously.</summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) => Endpoint.SendAsync(payload, cancellationToken);

    /// <summary>Name and addresses, for logs (the name is the peer's text: control characters in it are printed as <c>\uXXXX</c>).</summary>
    public override string ToString() => $"channel '{Platform.PrintableText.Of(Name)}' 0x{LocalAddress:X} -> 0x{RemoteAddress:X}";
}
