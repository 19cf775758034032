using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Rpmsg;

/// <summary>A received payload in shared memory, valid while the view is open. Holds a mapping lease.</summary>
public ref struct RpmsgRxView
{
    private MappingLease _lease;
    private readonly ReadOnlySpan<byte> _payload;

    internal RpmsgRxView(MappingLease lease, ReadOnlySpan<byte> payload)
    {
        _lease = lease;
        _payload = payload;
    }

    /// <summary>The payload bytes, in place (valid until the view is disposed).</summary>
    public readonly ReadOnlySpan<byte> Payload => _payload;

    /// <summary>Releases the lease.</summary>
    public void Dispose() => _lease.Dispose();
}
