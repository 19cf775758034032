namespace VirtioRpmsg.Rpmsg;

/// <summary>The peer sent something the protocol does not allow. <see cref="FaultException.Fault"/> names the field and the value.</summary>
public sealed class RpmsgProtocolException : FaultException
{
    /// <summary>Creates the exception for <paramref name="field"/> holding <paramref name="value"/>, breaking <paramref name="rule"/>.</summary>
    public RpmsgProtocolException(FaultRule rule, string field, ulong value, string message)
        : base(new Fault(FaultLayer.Rpmsg, rule, field, value, message))
    {
    }

    /// <summary>The offending field.</summary>
    public string Field => Fault.Field;

    /// <summary>The offending value.</summary>
    public ulong Value => Fault.Value;
}

/// <summary>A payload is larger than a buffer can carry (buffer size minus the 16-byte header).</summary>
public sealed class RpmsgPayloadTooLargeException : ArgumentException
{
    /// <summary>Creates the exception for a <paramref name="length"/>-byte payload where at most <paramref name="maxPayload"/> fit.</summary>
    public RpmsgPayloadTooLargeException(int length, int maxPayload)
        : this(length, maxPayload, "payload")
    {
    }

    /// <summary>As above, for a length given in the parameter <paramref name="paramName"/> (a zero-copy send's <c>length</c>).</summary>
    public RpmsgPayloadTooLargeException(int length, int maxPayload, string paramName)
        : base($"payload of {length} bytes exceeds the maximum of {maxPayload} bytes per rpmsg message", paramName)
    {
        PayloadLength = length;
        MaxPayload = maxPayload;
    }

    /// <summary>Length that was asked for.</summary>
    public int PayloadLength { get; }

    /// <summary>Largest payload one buffer carries.</summary>
    public int MaxPayload { get; }
}

/// <summary>
/// The device cannot send or receive: not started, link not up, remote not running, broken by a
/// protocol violation, or disposed. Blocked senders are woken with this exception too.
/// </summary>
public sealed class RpmsgDeviceUnavailableException : InvalidOperationException
{
    /// <summary>Creates the exception for <paramref name="device"/> refusing in <paramref name="state"/>, with <paramref name="reason"/> when known.</summary>
    public RpmsgDeviceUnavailableException(string device, RpmsgDeviceState state, string? reason = null)
        : base($"rpmsg device '{device}' is {state.ToString().ToLowerInvariant()}{(reason is null ? "" : ": " + reason)}")
    {
        State = state;
        Reason = reason;
    }

    /// <summary>Creates the exception for <paramref name="device"/> broken by <paramref name="fault"/>.</summary>
    public RpmsgDeviceUnavailableException(string device, RpmsgDeviceState state, Fault fault)
        : this(device, state, (fault ?? throw new ArgumentNullException(nameof(fault))).Message) => Fault = fault;

    /// <summary>The fault that broke the device, when that is why it refused (null for not started, stopped or disposed).</summary>
    public Fault? Fault { get; }

    /// <summary>The state that refused the operation.</summary>
    public RpmsgDeviceState State { get; }

    /// <summary>Why, when known (for a broken device, the protocol violation).</summary>
    public string? Reason { get; }
}

/// <summary>The two sides were configured differently (buffer size, vring size, features).</summary>
public sealed class RpmsgConfigurationException : FaultException
{
    /// <summary>Creates the exception for <paramref name="field"/>, where this side has <paramref name="localValue"/> and the peer <paramref name="peerValue"/>.</summary>
    public RpmsgConfigurationException(FaultRule rule, string field, ulong localValue, ulong peerValue, string message)
        : base(new Fault(FaultLayer.Rpmsg, rule, field, peerValue, message)) => LocalValue = localValue;

    /// <summary>What disagrees.</summary>
    public string Field => Fault.Field;

    /// <summary>This side's value.</summary>
    public ulong LocalValue { get; }

    /// <summary>The peer's value (also <c>Fault.Value</c>).</summary>
    public ulong PeerValue => Fault.Value;
}

/// <summary>
/// Messages queued for an endpoint were dropped before its reader took them: the channel was withdrawn by the peer's
/// name-service DESTROY, and the device's queue budget (<see cref="RpmsgDeviceOptions.MaxQueuedBytes"/>) took its unread
/// messages back for a live endpoint. A receive (and an <see cref="RpmsgStream"/> or <see cref="RpmsgDuplexPipe"/> read)
/// throws it once it has read what was left before the drop, instead of the end of the channel: what the reader got
/// is not all the peer sent.
/// </summary>
public sealed class RpmsgMessagesDroppedException : IOException
{
    /// <summary>Creates the exception for <paramref name="dropped"/> messages of endpoint <paramref name="endpoint"/> dropped, saying why in <paramref name="message"/>.</summary>
    public RpmsgMessagesDroppedException(uint endpoint, long dropped, string message)
        : base(message)
    {
        Endpoint = endpoint;
        Dropped = dropped;
    }

    /// <summary>The local address of the endpoint whose messages were dropped.</summary>
    public uint Endpoint { get; }

    /// <summary>How many messages were dropped unread.</summary>
    public long Dropped { get; }
}
