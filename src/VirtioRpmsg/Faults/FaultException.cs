namespace VirtioRpmsg;

/// <summary>
/// The exception family of <see cref="Fault"/>s: a peer broke the protocol (or the two sides disagree
/// on the configuration). Catch this type to handle every fault the same way; the derived types say
/// which layer detected it.
/// </summary>
public class FaultException : Exception
{
    /// <summary>Creates the exception for <paramref name="fault"/>.</summary>
    public FaultException(Fault fault) : base((fault ?? throw new ArgumentNullException(nameof(fault))).Message) => Fault = fault;

    /// <summary>The fault.</summary>
    public Fault Fault { get; }

    /// <summary>The rule that was broken (same as <c>Fault.Rule</c>).</summary>
    public FaultRule Rule => Fault.Rule;
}
