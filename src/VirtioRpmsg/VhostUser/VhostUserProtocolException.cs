namespace VirtioRpmsg.VhostUser;

/// <summary>A vhost-user front-end broke the protocol: the back-end closes the connection and drops its device.</summary>
public sealed class VhostUserProtocolException : FaultException
{
    /// <summary>Creates the exception for a vhost-user <paramref name="rule"/> broken by <paramref name="field"/> = <paramref name="value"/>.</summary>
    public VhostUserProtocolException(FaultRule rule, string field, ulong value, string message)
        : base(new Fault(FaultLayer.VhostUser, rule, field, value, message))
    {
    }

    /// <summary>Wraps an existing fault (for example FeaturesNotOffered).</summary>
    public VhostUserProtocolException(Fault fault) : base(fault)
    {
    }
}
